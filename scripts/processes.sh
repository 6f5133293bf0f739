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
