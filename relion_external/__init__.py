"""The executables a user types into RELION's External job tab."""
