#!/bin/sh
# run_mpi.sh NP PROGRAM [ARGS...]: PROGRAM under mpirun with NP ranks on this machine, as ctest
# runs the multi-rank tests. More ranks than cores need --oversubscribe; as root (CI containers)
# Open MPI refuses to start without --allow-run-as-root. One kernel thread per rank, so the ranks
# do not fight over the cores.
np=$1
shift
flags="--oversubscribe"
if [ "$(id -u)" -eq 0 ]; then flags="$flags --allow-run-as-root"; fi
# Shared-memory transport without ptrace-based single copy, which containers often forbid.
exec mpirun -np "$np" $flags --mca btl_vader_single_copy_mechanism none -x MITHRIL_NUM_THREADS=1 "$@"
