#!/bin/bash
# RELION queue-submission template (RELION 3.1 / 4.0 / 5.0) for the CryoDiscovery External job on
# one SLURM GPU node. In RELION's Running tab set "Submit to queue?" Yes, "Queue submit command"
# sbatch, "Standard submission script" this file (or export RELION_QSUB_TEMPLATE=<this file>).
# RELION copies it to External/jobNNN/run_submit.script, replacing the XXX...XXX words, and runs
# "sbatch External/jobNNN/run_submit.script" from the project directory. See docs/cluster.md.
#
# The two extra values need these variables in the environment that starts RELION (without them
# RELION leaves the words unreplaced and sbatch rejects the script):
#   export RELION_QSUB_EXTRA_COUNT=2
#   export RELION_QSUB_EXTRA1="Number of GPUs:"  RELION_QSUB_EXTRA1_DEFAULT=1
#   export RELION_QSUB_EXTRA2="Time limit (d-hh:mm:ss):"  RELION_QSUB_EXTRA2_DEFAULT=0-01:00:00
# External jobs have no MPI (one task); the threads are the Running tab's "Number of threads",
# which RELION also passes to the program as --j. One node: the node count RELION computes from
# the "minimum dedicated cores" is meant for MPI jobs and is not used here.
#SBATCH --job-name=XXXnameXXX
#SBATCH --partition=XXXqueueXXX
#SBATCH --nodes=1
#SBATCH --ntasks=XXXmpinodesXXX
#SBATCH --cpus-per-task=XXXthreadsXXX
#SBATCH --gres=gpu:XXXextra1XXX
#SBATCH --time=XXXextra2XXX
#SBATCH --output=XXXoutfileXXX
#SBATCH --error=XXXerrfileXXX
#SBATCH --open-mode=append

# Site set-up, if the External executable needs it (an absolute path to the virtual
# environment's cryodiscovery_select needs nothing), e.g.:
#   module load cuda
#   source /opt/cryodiscovery/.venv/bin/activate
echo "CryoDiscovery External job XXXnameXXX on $(hostname), GPUs: ${CUDA_VISIBLE_DEVICES:-none}"

# SLURM sends TERM at the time limit; the program then writes RELION_JOB_EXIT_FAILURE itself.
# Trapping it here keeps this script alive for the check below.
trap 'echo "CryoDiscovery: SIGTERM (time limit or scancel)" >&2' TERM

# RELION puts the External command on the next line (on a line of its own).
XXXcommandXXX
status=$?

# RELION waits for a marker file, not for this job: if the program ended without writing one
# (not found, crashed, killed), write RELION_JOB_EXIT_FAILURE so the job does not stay "Running".
if [ ! -e "XXXnameXXXRELION_JOB_EXIT_SUCCESS" ] && [ ! -e "XXXnameXXXRELION_JOB_EXIT_FAILURE" ] \
    && [ ! -e "XXXnameXXXRELION_JOB_EXIT_ABORTED" ]; then
    echo "CryoDiscovery: the program ended (exit status $status) without a RELION marker file;" \
        "writing XXXnameXXXRELION_JOB_EXIT_FAILURE" >&2
    touch "XXXnameXXXRELION_JOB_EXIT_FAILURE"
fi
exit "$status"
