"""Server benchmarks (docs/benchmarks.md, "Webhook server"). Run by scripts/bench-server.sh.

1. Intake: wrk POSTs Ed25519-signed ContactTagUpdate webhooks (each a distinct webhookId, so
   each is verified and durably committed) to `leadsync serve` (release build, workers running
   against a sandbox in its own process), next to wrk GETting a bare Hummingbird hello-world
   route, same wrk settings, same run. Throughput, p50, p99; resident memory of the server.
2. Webhook -> bucket latency at 100 webhooks/s with zero-latency upstreams (`leadsync-bench latency`).
"""
import base64, json, os, re, signal, socket, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

bin_dir = sys.argv[1]
duration = int(os.environ.get("BENCH_SECONDS", "10"))
connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
leadsync, bench = f"{bin_dir}/leadsync", f"{bin_dir}/leadsync-bench"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="leadsync-bench-server-")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port):
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def rss(pid):
    status = open(f"/proc/{pid}/status").read()
    get = lambda k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024
    return get("VmRSS"), get("VmHWM")


def wrk(url, script=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        v, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0, out


# Signed bodies, more than wrk can send in the run, each with its own webhookId.
key = Ed25519PrivateKey.generate()
pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
open(f"{work}/ed25519.pem", "wb").write(pem)
count = 12000 * duration
with open(f"{work}/bodies.txt", "w") as f:
    for i in range(count):
        c = i % 20000
        body = json.dumps({"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": f"load{c:06d}",
                           "firstName": "Load", "phone": f"+1628{4000000 + c:07d}", "tags": ["cold lead"],
                           "timestamp": "2026-11-29T12:00:00.000Z", "webhookId": str(uuid.uuid4())}, separators=(",", ":"))
        f.write(base64.b64encode(key.sign(body.encode())).decode() + "\t" + body + "\n")
lua = f"{work}/post.lua"
open(lua, "w").write(f"""
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args)
  sigs, bodies = {{}}, {{}}
  for line in io.lines("{work}/bodies.txt") do
    local tab = line:find("\\t")
    sigs[#sigs + 1] = line:sub(1, tab - 1); bodies[#bodies + 1] = line:sub(tab + 1)
  end
  n = #bodies; i = tid * math.floor(n / 2)
end
function request()
  i = i % n + 1
  return wrk.format("POST", "/webhook/ghl", {{["x-ghl-signature"] = sigs[i], ["Content-Type"] = "application/json"}}, bodies[i])
end
""")

sb_port, port, hello_port = free_port(), free_port(), free_port()
sandbox = subprocess.Popen([leadsync, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wait_port(sb_port)
base = f"http://127.0.0.1:{sb_port}"
env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
           CALLTOOLS_BASE_URL=base, CALLTOOLS_API_KEY="sandbox-calltools-key", GHL_RATE_LIMIT="1000000/1",
           CALLTOOLS_RATE_LIMIT="1000000/1", GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem", LEADSYNC_PORT=str(port),
           LEADSYNC_SYNC_INTERVAL_MINUTES="0", LEADSYNC_FULL_SYNC_HOUR="off", LEADSYNC_DB=f"{work}/leadsync.sqlite")
server = subprocess.Popen([leadsync, "serve", "--rules", f"{root}/rules/cold-leads.yaml", "--log-level", "warning"], env=env,
                          stderr=open(f"{work}/server.log", "w"))
wait_port(port)
hello = subprocess.Popen([bench, "hello", "--port", str(hello_port)])
wait_port(hello_port)

print(f"Intake: wrk -t2 -c{connections} -d{duration}s on loopback, 2 cores shared by wrk, server, sandbox\n")
h = wrk(f"http://127.0.0.1:{hello_port}/hello")
w = wrk(f"http://127.0.0.1:{port}", lua)
now_rss, peak_rss = rss(server.pid)
fmt = "  {:<46} {:>9} {:>9} {:>9}"
print(fmt.format("", "req/s", "p50", "p99"))
print(fmt.format("GET /hello (bare Hummingbird route)", f"{h[0]:.0f}", f"{h[1]:.2f} ms", f"{h[2]:.2f} ms"))
print(fmt.format("POST /webhook/ghl (Ed25519, committed to SQLite)", f"{w[0]:.0f}", f"{w[1]:.2f} ms", f"{w[2]:.2f} ms"))
print(f"  webhook intake / hello world throughput: {w[0] / h[0]:.2f}; non-2xx answers: {w[3]}")
print(f"  bars: >= 3000 req/s {'MET' if w[0] >= 3000 else 'NOT MET'}; p99 < 25 ms {'MET' if w[2] < 25 else 'NOT MET'}")
print(f"  server resident memory after the run: {now_rss:.1f} MiB, peak {peak_rss:.1f} MiB "
      f"(bar < 100 MB: {'MET' if peak_rss * 1.048576 < 100 else 'NOT MET'})")
# How fast the workers apply the backlog once intake stops (they share the two cores with it before).
def applied():
    out = subprocess.run([leadsync, "stats", "--json", "--db", f"{work}/leadsync.sqlite"], capture_output=True, text=True)
    s = json.loads(out.stdout)
    return s["events_applied"], s["queue_depth"]
a0, q0 = applied(); t = time.time()
time.sleep(10)
a1, q1 = applied(); dt = time.time() - t
print(f"  backlog: {a0} applied during the run, {q0} queued after it; then {(a1 - a0) / dt:.0f} events/s applied "
      f"with intake idle (new contacts: a phone lookup and a create each, every state change fsynced)")
for p in (hello, server):
    p.send_signal(signal.SIGTERM); p.wait(timeout=30)
sandbox.send_signal(signal.SIGTERM); sandbox.wait(timeout=10)

print()
subprocess.run([bench, "latency", "--rate", "100", "--seconds", "20", "--rules", f"{root}/rules/cold-leads.yaml"], check=True)
