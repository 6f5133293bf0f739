# Sourced by scripts/cluster.sh and scripts/node.sh: the processes they start and stop.
# The sourcing script defines log().

# N distinct loopback ports, free now and below the kernel's ephemeral range: the API server
# dials etcd before it binds its own port, and the kernel takes the local ports of such dials
# from that range, so a port picked there can be gone by the time its server binds it.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports = set()
while len(ports) < int(sys.argv[1]):
    port = random.randrange(10000, max(low, 20000))
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    ports.add(port)
print(*ports)
PY
}

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# start_time PID: when the process started (clock ticks after boot: field 22 of /proc/PID/stat)
# and in which boot. With the pid it names one process: a pid read back from a record may since
# belong to another (the process ended, or the machine rebooted) and must not be signalled.
start_time() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  # The fields after the command name, which may itself hold spaces and parentheses.
  read -r -a fields <<< "${stat##*) }"
  echo "${fields[19]}@$(cat /proc/sys/kernel/random/boot_id)"
}

# record_pids VAR...: record-file lines for each pid variable, with its process's start time.
record_pids() {
  local var
  for var in "$@"; do
    echo "$var=${!var:-}"
    echo "${var}_START=$(if [[ -n "${!var:-}" ]]; then start_time "${!var}"; fi)"
  done
}

# forget_foreign_pids VAR...: after loading a record, empties each pid variable whose process is
# not the one recorded (or is gone), so that nothing signals, enters or waits on a stranger.
forget_foreign_pids() {
  local var start
  for var in "$@"; do
    [[ -n "${!var:-}" ]] || continue
    start="${var}_START"
    if [[ -z "${!start:-}" || "$(start_time "${!var}")" != "${!start}" ]]; then
      alive "${!var}" && log "pid ${!var} (recorded as $var) is no longer ours: left alone"
      printf -v "$var" '%s' ""
    fi
  done
}

stop_pid() { # PID NAME
  local pid="$1" name="$2" i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive "$pid" || return 0
    sleep 0.2
  done
  log "$name ($pid) ignored SIGTERM; killing"
  kill -KILL "$pid" 2>/dev/null || true
}
