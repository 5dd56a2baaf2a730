"""The operator page in a real browser (issue 12): headless Debian chromium driven by Playwright.

Usage: python3 scripts/ui_test.py LEADSYNC_BINARY [--screenshots DIR]

Against a real `leadsync serve` and `leadsync sandbox` on loopback, it:
1. signs in with the admin token through the form;
2. sends a signed sandbox webhook and sees the contact arrive on the overview, finds it by name,
   and opens its page: buckets in CallTools and the decision's explanation;
3. makes a dead letter (the sandbox is stopped, so CallTools cannot be reached and the one
   allowed attempt fails), starts the sandbox again, and replays it from the page;
4. previews a rules edit (its plan);
and on every page checks basic accessibility: one h1 and no skipped heading level, a label
for every input, and text contrast of at least 4.5:1 (WCAG 2, computed in the browser).
Each step saves a screenshot in DIR (default .ci/screenshots). Exit 0 when all holds.
"""
import argparse, base64, http.client, json, os, shutil, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from crash_test import free_port, wait_until  # the scripts' shared process helpers
from playwright.sync_api import sync_playwright, expect

ADMIN = "ui-test-admin-token-0123456789abcdef"
RULES = """version: 1
buckets:
  cold: 11237
  warm: 11252
fields:
  first_name: "{{ firstName | default: 'Unknown' }}"
  last_name: "{{ lastName }}"
  mobile_phone_number: "{{ phone | e164 }}"
  crm_id: "{{ id }}"
exclusions:
  - name: do-not-call
    when: { field: dnd, equals: true }
rules:
  - name: cold-lead
    when: { tags: { has: cold lead } }
    bucket: cold
  - name: warm-lead
    when: { tags: { has: warm lead } }
    bucket: warm
on_no_match: remove
"""

# Runs in the page: every problem found, as text.
A11Y_JS = r"""
() => {
  const problems = [];
  const heads = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  if (heads.filter(l => l === 1).length !== 1) problems.push(`expected one h1, found ${heads.filter(l => l === 1).length}`);
  if (heads[0] !== 1) problems.push('the first heading is not an h1');
  for (let i = 1; i < heads.length; i++)
    if (heads[i] > heads[i - 1] + 1) problems.push(`heading level skips from h${heads[i - 1]} to h${heads[i]}`);
  for (const el of document.querySelectorAll('input,textarea,select')) {
    if (el.type === 'hidden') continue;
    const labelled = el.getAttribute('aria-label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label');
    if (!labelled) problems.push(`input without a label: ${el.outerHTML.slice(0, 80)}`);
  }
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  let checked = 0;
  for (const el of document.querySelectorAll('body *')) {
    if (['SCRIPT', 'STYLE', 'svg', 'rect', 'line', 'title'].includes(el.tagName)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('svg')) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || el.getClientRects().length === 0) continue;
    const fg = parse(s.color), bg = background(el);
    if (!fg) continue;
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    checked++;
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}:1 for "${el.textContent.trim().slice(0, 40)}" (${s.color} on rgb(${bg.r},${bg.g},${bg.b}))`);
  }
  if (checked === 0) problems.push('no text checked for contrast');
  return problems;
}
"""


def status(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    c.request("GET", path, headers=headers or {})
    return c.getresponse().status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--screenshots", default=".ci/screenshots")
    a = ap.parse_args()
    shots = a.screenshots
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    work = tempfile.mkdtemp(prefix="leadsync-ui-")
    key = Ed25519PrivateKey.generate()
    open(f"{work}/ed25519.pem", "wb").write(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    open(f"{work}/rules.yaml", "w").write(RULES)
    sb_port, port = free_port(), free_port()
    procs = []

    def start_sandbox():
        p = subprocess.Popen([a.binary, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_until("the sandbox", lambda: status(sb_port, "/api/buckets/", {"Authorization": "Token sandbox-calltools-key"}) == 200, 30)
        return p

    sandbox = start_sandbox()
    base = f"http://127.0.0.1:{sb_port}"
    env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=base, CALLTOOLS_API_KEY="sandbox-calltools-key", GHL_RATE_LIMIT="100000/1",
               CALLTOOLS_RATE_LIMIT="100000/1", GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem",
               LEADSYNC_PORT=str(port), LEADSYNC_ADMIN_TOKEN=ADMIN, LEADSYNC_SYNC_INTERVAL_MINUTES="0",
               LEADSYNC_FULL_SYNC_HOUR="off", LEADSYNC_DB=f"{work}/leadsync.sqlite",
               # One attempt and a breaker that never opens: an unreachable CallTools makes a dead
               # letter at once (instead of retries, or events held for the outage).
               LEADSYNC_MAX_ATTEMPTS="1", LEADSYNC_BREAKER_FAILURES="1000")
    log = open(f"{work}/server.log", "ab")
    server = subprocess.Popen([a.binary, "serve", "--rules", f"{work}/rules.yaml", "--log-level", "warning"],
                              env=env, stdout=log, stderr=log)
    procs.append(server)
    wait_until("the server", lambda: status(port, "/healthz") == 200, 30)
    ui = f"http://127.0.0.1:{port}"

    def webhook(contact_id, first, last, phone, tags):
        event = {"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": contact_id,
                 "firstName": first, "lastName": last, "phone": phone, "tags": tags,
                 "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "webhookId": str(uuid.uuid4())}
        body = json.dumps(event).encode()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("POST", "/webhook/ghl", body, {"x-ghl-signature": base64.b64encode(key.sign(body)).decode(),
                                                  "Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 200, f"webhook answered {r.status}: {r.read()}"

    step = [0]
    problems = []

    def shot(page, name):
        step[0] += 1
        path = f"{shots}/{step[0]:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        found = page.evaluate(A11Y_JS)
        for p in found:
            problems.append(f"{name}: {p}")
        print(f"  {path}" + (f"  ({len(found)} accessibility problem(s))" if found else ""))

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)

            # 1. Sign in.
            page.goto(f"{ui}/ui")
            expect(page).to_have_url(f"{ui}/ui/login")
            shot(page, "sign-in")
            page.get_by_label("Admin token").fill("not the token")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_contain_text("not the admin token")
            page.get_by_label("Admin token").fill(ADMIN)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
            assert ADMIN not in page.content(), "the admin token is in the page"
            cookie = [c for c in page.context.cookies() if c["name"] == "leadsync_session"][0]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie

            # 2. A webhook; the contact on the overview, then its own page and explanation.
            webhook("ui-ana", "Ana", "Lima", "(415) 555-0132", ["cold lead"])
            def on_overview():
                page.reload()
                return page.locator("#recent").get_by_text("ui-ana").count() == 1
            wait_until("the contact on the overview", on_overview, 30)
            expect(page.locator("#accepted")).to_have_text("1")
            shot(page, "overview")
            page.get_by_role("link", name="Contacts").click()
            page.get_by_label("Search by GHL id, phone or name").fill("Ana Lima")
            page.get_by_role("button", name="Search").click()
            page.locator("#hits").get_by_role("link", name="ui-ana").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Contact ui-ana")
            expect(page.locator("#buckets")).to_contain_text("cold (11237)")
            shot(page, "contact")
            decision = page.locator("#decision")
            expect(decision).to_contain_text("cold-lead")
            expect(decision.locator("table.trace")).to_contain_text("applied")
            expect(decision.locator("table.trace")).to_contain_text("rule warm-lead")
            decision.scroll_into_view_if_needed()
            shot(page, "explanation")

            # 3. A dead letter: CallTools unreachable, one attempt allowed.
            sandbox.kill(); sandbox.wait()
            webhook("ui-bob", "Bob", "Reis", "(415) 555-0177", ["warm lead"])
            page.get_by_role("link", name="Dead letters").click()
            def dead_listed():
                page.reload()
                return page.locator("#letters").get_by_text("ui-bob").count() == 1
            wait_until("the dead letter", dead_listed, 30)
            shot(page, "dead-letter")
            sandbox = start_sandbox()
            page.locator("#letters").get_by_role("button", name="Replay").first.click()
            expect(page.get_by_role("status")).to_contain_text("Requeued 1 dead letter")
            def replayed():
                page.goto(f"{ui}/ui/contacts/ui-bob")
                return "warm (11252)" in page.locator("#buckets").inner_text()
            wait_until("the replayed event applied", replayed, 30)
            shot(page, "replayed")
            page.goto(f"{ui}/ui/dead-letters")
            expect(page.get_by_text("No dead letters")).to_be_visible()

            # A POST with the browser's session cookie but without the CSRF token: refused. (The
            # page's own script could not even send it: its CSP allows no fetch.)
            refused = page.request.post(f"{ui}/ui/rules/reload", form={"x": "1"}, max_redirects=0).status
            assert refused == 403, f"a POST without CSRF answered {refused}"

            # 4. Preview a rules edit: cold leads go to the warm bucket.
            page.get_by_role("link", name="Rules").click()
            page.get_by_label("Rules file (YAML)").fill(RULES.replace("    bucket: cold\n", "    bucket: warm\n"))
            page.get_by_role("button", name="Preview plan").click()
            expect(page.locator("#plan-title")).to_have_text("What deploying this edit would do")
            expect(page.locator("#plan")).to_contain_text("cold → warm")
            page.locator("#plan").scroll_into_view_if_needed()
            shot(page, "rules-preview")
            page.get_by_role("link", name="Passes").click()
            shot(page, "passes")
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(f"{ui}/ui/login")
            browser.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    if problems:
        print("accessibility problems:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(f"ui_test: all steps passed; screenshots in {shots}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
