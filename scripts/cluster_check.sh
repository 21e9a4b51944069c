#!/usr/bin/env bash
# `make cluster-check`: exercise the SLURM profile for real on this machine.
#
# 1. Installs Debian's slurm-wlm and munge when sbatch is missing (needs root, or sudo).
# 2. Starts a single-node SLURM (munged, slurmctld, slurmd): no accounting database, every CPU
#    and the machine's memory, one placeholder GPU gres (File=/dev/null) so that the training
#    rules' `--gpus=1` requests are scheduled (the jobs themselves run on the CPU).
# 3. Runs the smoke profile twice from copies of the repository: locally, then through
#    `snakemake --workflow-profile workflow/profiles/slurm --executor slurm --slurm-no-account
#    --slurm-status-command squeue`, with the profile's per-job resources scaled down to this node.
# 4. Compares the two reports/ folders (markdown and metrics.json): they must be identical.
#
# Environment: PYTHON (default .venv/bin/python), WORK (default: a new temporary folder),
# KEEP_SLURM=1 leaves the SLURM daemons running afterwards.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
PYTHON=$(realpath -s "$PYTHON")  # absolute, but not resolved: a venv python is a symlink
WORK=${WORK:-$(mktemp -d /tmp/taco-cluster-check.XXXXXX)}
SLURM_CONF=/etc/slurm/slurm.conf
HOST=$(hostname -s)
log() { printf '[cluster-check] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_slurm() {
    if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    log "starting munged"
    as_root mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    if ! as_root test -s /etc/munge/munge.key; then
        as_root mungekey --create --keyfile=/etc/munge/munge.key
    fi
    as_root chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
    as_root chmod 0700 /etc/munge && as_root chmod 0400 /etc/munge/munge.key
    as_root runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null
}

write_slurm_conf() {
    local cpus memory_mb
    cpus=$(nproc)
    memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    log "writing $SLURM_CONF: node $HOST, $cpus CPUs, $memory_mb MB, 1 placeholder GPU"
    as_root mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    as_root tee "$SLURM_CONF" >/dev/null <<EOF
# Written by taco's scripts/cluster_check.sh: a single-node cluster without accounting.
ClusterName=taco-check
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue must still list a finished job when the plugin asks (it has no sacct here).
MinJobAge=3600
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$HOST CPUs=$cpus RealMemory=$memory_mb Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    as_root tee /etc/slurm/gres.conf >/dev/null <<EOF
NodeName=$HOST Name=gpu File=/dev/null
EOF
}

start_slurm() {
    if scontrol ping 2>/dev/null | grep -q "is UP" && sinfo -h -o %T 2>/dev/null | grep -Eq "idle|mix|alloc"; then
        log "SLURM already running"
        return
    fi
    write_slurm_conf
    log "starting slurmctld and slurmd"
    as_root slurmctld
    as_root slurmd
    sleep 2
    as_root scontrol update nodename="$HOST" state=resume 2>/dev/null || true  # clears a drain left by an earlier start
    for _ in $(seq 60); do
        if sinfo -h -o %T 2>/dev/null | grep -Eq "idle|mix|alloc"; then
            sinfo
            return
        fi
        sleep 1
    done
    log "the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log"
    exit 1
}

stop_slurm() {
    if [ "${KEEP_SLURM:-0}" = 1 ]; then
        return
    fi
    log "stopping slurmd and slurmctld"
    as_root scontrol shutdown >/dev/null 2>&1 || true
}

copy_repository() {
    local destination=$1
    mkdir -p "$destination"
    tar -C "$REPO" --exclude=__pycache__ -cf - Snakefile workflow params taco | tar -C "$destination" -xf -
}

run_local() {
    log "local smoke run in $WORK/local"
    copy_repository "$WORK/local"
    (cd "$WORK/local" && "$PYTHON" -m snakemake --cores all --configfile params/smoke.yaml) >"$WORK/local.log" 2>&1
}

run_slurm() {
    log "SLURM smoke run in $WORK/slurm"
    copy_repository "$WORK/slurm"
    # The cluster profile's resources are sized for GPU nodes: scale them to this node (CLI values
    # replace the profile's set-threads / set-resources lists).
    (cd "$WORK/slurm" && "$PYTHON" -m snakemake --workflow-profile workflow/profiles/slurm \
        --executor slurm --slurm-no-account --slurm-status-command squeue \
        --slurm-init-seconds-before-status-checks 5 --jobs "$(nproc)" \
        --default-resources mem_mb=1500 runtime=30 cpus_per_task=1 \
        --set-threads train=1 \
        --set-resources train:mem_mb=2000 train:cpus_per_task=1 train:runtime=60 \
        --configfile params/smoke.yaml) >"$WORK/slurm.log" 2>&1
}

compare_reports() {
    # Reports name their date and commit: equal for two runs of the same copy on the same day.
    log "comparing reports"
    diff -r -x '*.png' "$WORK/local/reports" "$WORK/slurm/reports"
}

main() {
    install_slurm
    start_munge
    start_slurm
    trap stop_slurm EXIT
    run_local || { log "local run failed: $WORK/local.log"; tail -n 30 "$WORK/local.log"; exit 1; }
    run_slurm || { log "SLURM run failed: $WORK/slurm.log"; tail -n 30 "$WORK/slurm.log"; exit 1; }
    local submitted
    submitted=$(grep -c "Job .* has been submitted with SLURM jobid" "$WORK/slurm.log" || true)
    log "SLURM jobs submitted: $submitted"
    [ "$submitted" -gt 0 ] || { log "no job went through SLURM"; exit 1; }
    compare_reports
    log "OK: the SLURM run produced the same reports as the local run ($WORK)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
