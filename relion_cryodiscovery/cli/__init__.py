"""The command lines: relion_cryodiscovery (main.py: one parser builder, one subcommand per module with
add_args(parser) and main(args), the module docstring as manual page) and RELION's External-job options
(external_args.py); thin layers over relion_cryodiscovery.pipeline."""
