/// The operator page's Mustache templates and style sheet, compiled into the binary: the
/// appliance stays one file, with nothing to fetch from a CDN. `{{x}}` escapes HTML; the only
/// unescaped values (`{{{…}}}`) are the style sheet and the chart, both built here from numbers
/// and escaped text.
enum UITemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "contacts": contacts, "contact": contact,
        "dead": dead, "rules": rules, "runs": runs, "message": message,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · leadsync</title>
        <style>{{{css}}}</style>
        </head>
        <body>
        <header class="top">
          <a class="brand" href="/ui">leadsync</a>
          {{#signedIn}}
          <nav aria-label="Main">
            {{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}
          </nav>
          {{#hasLocations}}
          <nav aria-label="Locations" class="locations">
            {{#locations}}<a href="/ui?location={{id}}"{{#current}} aria-current="location"{{/current}}>{{label}}</a>{{/locations}}
          </nav>
          {{/hasLocations}}
          <form method="post" action="/ui/logout" class="logout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" class="quiet">Log out</button>
          </form>
          {{/signedIn}}
        </header>
        <main>
        {{$body}}{{/body}}
        </main>
        {{#refreshMs}}
        <script>
        // Auto-refresh, unless someone is typing or has ticked a box.
        setTimeout(function () {
          if (!document.querySelector("input:focus, textarea:focus, input[type=checkbox]:checked")) location.reload();
        }, {{refreshMs}});
        </script>
        {{/refreshMs}}
        </body>
        </html>
        """

    static let login = """
        {{<layout}}{{$body}}
        <section class="card narrow">
          <h1>Sign in</h1>
          <p class="muted">Use the appliance's admin token (<code>LEADSYNC_ADMIN_TOKEN</code>).</p>
          {{#error}}<p class="alert" role="alert">{{error}}</p>{{/error}}
          <form method="post" action="/ui/login">
            <label for="token">Admin token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
            <button type="submit">Sign in</button>
          </form>
        </section>
        {{/body}}{{/layout}}
        """

    static let overview = """
        {{<layout}}{{$body}}
        <h1>Overview</h1>
        <div class="tiles">
          <div class="tile"><span class="label">Accepted, last hour</span><span class="figure" id="accepted">{{accepted}}</span></div>
          <div class="tile"><span class="label">Ignored, last hour</span><span class="figure">{{ignored}}</span></div>
          <div class="tile"><span class="label">Refused, last hour</span><span class="figure">{{refused}}</span></div>
          <div class="tile"><span class="label">Queue depth</span><span class="figure" id="queue">{{queue}}</span></div>
          <div class="tile"><span class="label">Retries waiting</span><span class="figure">{{retries}}</span></div>
          <div class="tile"><a class="label" href="/ui/dead-letters">Dead letters</a><span class="figure{{#deadAlert}} bad{{/deadAlert}}" id="dead">{{dead}}</span></div>
        </div>
        <section class="card">
          <h2>Webhooks per minute</h2>
          {{{chart}}}
        </section>
        <div class="columns">
          <section class="card">
            <h2>Passes</h2>
            <dl>
              <dt>Last pass</dt><dd>{{lastPass}}</dd>
              <dt>Next pass</dt><dd>{{nextPass}}</dd>
              {{#running}}<dt>Running</dt><dd>pass {{id}} ({{mode}}): {{done}} of {{total}} contacts, {{eta}} left</dd>{{/running}}
              {{#backlogEta}}<dt>Backlog</dt><dd>{{backlogEta}}</dd>{{/backlogEta}}
            </dl>
          </section>
          <section class="card">
            <h2>Budgets and upstreams</h2>
            <table>
              <thead><tr><th scope="col">Upstream</th><th scope="col">Budget left</th><th scope="col">Circuit</th></tr></thead>
              <tbody>
              {{#upstreams}}<tr><td>{{name}}</td><td>{{budget}}</td><td><span class="badge {{tone}}">{{state}}</span></td></tr>{{/upstreams}}
              </tbody>
            </table>
          </section>
          <section class="card">
            <h2>Rules</h2>
            <dl>
              <dt>Live rules</dt><dd><code>{{rulesHash}}</code></dd>
              <dt>Loaded</dt><dd>{{rulesLoaded}}</dd>
              <dt>File</dt><dd><a href="/ui/rules">{{rulesPath}}</a></dd>
            </dl>
          </section>
        </div>
        <section class="card">
          <h2>Latest contacts</h2>
          {{#hasRecent}}
          <table id="recent">
            <thead><tr><th scope="col">GHL contact</th><th scope="col">Name</th><th scope="col">Buckets</th><th scope="col">Changed</th></tr></thead>
            <tbody>
            {{#recent}}<tr><td><a href="/ui/contacts/{{href}}">{{id}}</a></td><td>{{name}}</td><td>{{buckets}}</td><td>{{updated}}</td></tr>{{/recent}}
            </tbody>
          </table>
          {{/hasRecent}}
          {{^recent}}<p class="muted">No contact has been processed yet.</p>{{/recent}}
        </section>
        {{/body}}{{/layout}}
        """

    static let contacts = """
        {{<layout}}{{$body}}
        <h1>Contacts</h1>
        <form method="get" action="/ui/contacts" class="search" role="search">
          <label for="q">Search by GHL id, phone or name</label>
          <input id="q" name="q" type="search" value="{{query}}">
          <button type="submit">Search</button>
        </form>
        {{#searched}}
        <section class="card">
          <h2>{{resultTitle}}</h2>
          {{#hasHits}}
          <table id="hits">
            <thead><tr><th scope="col">GHL contact</th><th scope="col">Name</th><th scope="col">Phone</th><th scope="col">Buckets</th><th scope="col">Changed</th></tr></thead>
            <tbody>
            {{#hits}}<tr><td><a href="/ui/contacts/{{href}}">{{id}}</a></td><td>{{name}}</td><td>{{phone}}</td><td>{{buckets}}</td><td>{{updated}}</td></tr>{{/hits}}
            </tbody>
          </table>
          {{/hasHits}}
        </section>
        {{/searched}}
        {{/body}}{{/layout}}
        """

    static let contact = """
        {{<layout}}{{$body}}
        <h1>Contact {{id}}</h1>
        {{#name}}<p class="subtitle">{{name}}</p>{{/name}}
        <div class="columns">
          <section class="card">
            <h2>In CallTools</h2>
            <dl>
              <dt>CallTools contact</dt><dd>{{calltoolsId}}</dd>
              <dt>Buckets</dt><dd id="buckets">{{buckets}}</dd>
              <dt>Tags</dt><dd>{{tags}}</dd>
              <dt>Customer</dt><dd>{{customer}}</dd>
            </dl>
            {{#hasFields}}
            <h3>Fields</h3>
            <table><tbody>{{#fields}}<tr><th scope="row">{{name}}</th><td>{{value}}</td></tr>{{/fields}}</tbody></table>
            {{/hasFields}}
          </section>
          <section class="card" id="decision">
            <h2>Last decision</h2>
            {{#decision}}
            <p class="muted">{{at}}</p>
            <dl>
              <dt>Buckets</dt><dd>{{buckets}}</dd>
              <dt>Rules applied</dt><dd>{{rules}}</dd>
              <dt>Excluded by</dt><dd>{{excluded}}</dd>
            </dl>
            <h3>Why</h3>
            <table class="trace">
              <thead><tr><th scope="col">Exclusion or rule</th><th scope="col">Outcome</th></tr></thead>
              <tbody>
              {{#trace}}<tr><td>{{name}}</td><td><span class="badge {{tone}}">{{outcome}}</span> {{reason}}</td></tr>{{/trace}}
              </tbody>
            </table>
            {{#notes}}<p class="note">{{.}}</p>{{/notes}}
            {{/decision}}
            {{^decision}}<p class="muted">No decision recorded yet.</p>{{/decision}}
          </section>
        </div>
        <section class="card">
          <h2>Calls and outcomes</h2>
          {{#hasCalls}}
          <table><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Result</th></tr></thead>
          <tbody>{{#calls}}<tr><td>{{at}}</td><td>{{kind}}</td><td>{{summary}}</td></tr>{{/calls}}</tbody></table>
          {{/hasCalls}}
          {{^calls}}<p class="muted">No call made.</p>{{/calls}}
        </section>
        <section class="card">
          <h2>Events</h2>
          {{#hasEvents}}
          <table><thead><tr><th scope="col">Received</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Last error</th></tr></thead>
          <tbody>{{#events}}<tr><td>{{at}}</td><td>#{{seq}} {{type}} ({{source}})</td><td><span class="badge {{tone}}">{{status}}</span></td><td>{{error}}</td></tr>{{/events}}</tbody></table>
          {{/hasEvents}}
          {{^events}}<p class="muted">No webhook brought this contact; it came from a pass.</p>{{/events}}
        </section>
        {{/body}}{{/layout}}
        """

    static let dead = """
        {{<layout}}{{$body}}
        <h1>Dead letters</h1>
        {{#flash}}<p class="ok" role="status">{{flash}}</p>{{/flash}}
        {{#hasLetters}}
        <form method="post" action="/ui/dead-letters/replay">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <table id="letters">
            <thead><tr><th scope="col"><span class="sr">Select</span></th><th scope="col">Event</th><th scope="col">Contact</th><th scope="col">Received</th><th scope="col">Attempts</th><th scope="col">Reason</th><th scope="col"><span class="sr">Action</span></th></tr></thead>
            <tbody>
            {{#letters}}<tr>
              <td><input type="checkbox" name="selected" value="{{seq}}" id="sel-{{seq}}" aria-label="Select event {{seq}}"></td>
              <td>#{{seq}} {{type}}</td><td><a href="/ui/contacts/{{href}}">{{contact}}</a></td><td>{{at}}</td><td>{{attempts}}</td><td>{{error}}</td>
              <td><button type="submit" name="seq" value="{{seq}}" class="small">Replay</button></td>
            </tr>{{/letters}}
            </tbody>
          </table>
          <p><button type="submit" name="action" value="selected">Replay selected</button></p>
        </form>
        {{/hasLetters}}
        {{^letters}}<p class="muted">No dead letters. Every accepted event was applied or is still being worked on.</p>{{/letters}}
        {{/body}}{{/layout}}
        """

    static let rules = """
        {{<layout}}{{$body}}
        <h1>Rules</h1>
        {{#flash}}<p class="{{flashTone}}" role="status">{{flash}}</p>{{/flash}}
        <div class="columns">
          <section class="card">
            <h2>Live rules</h2>
            <dl>
              <dt>Hash</dt><dd><code>{{hash}}</code></dd>
              <dt>Loaded</dt><dd>{{loaded}}</dd>
              <dt>File</dt><dd><code>{{path}}</code></dd>
            </dl>
            {{#drift}}<p class="alert" id="drift">{{drift}}</p>{{/drift}}
            <h3>Check of the file on disk</h3>
            {{#hasCheck}}<ul class="diagnostics">{{#check}}<li class="{{severity}}">{{text}}</li>{{/check}}</ul>{{/hasCheck}}
            {{^check}}<p class="ok">No problem found.</p>{{/check}}
            <form method="post" action="/ui/rules/reload">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <button type="submit">Reload from file</button>
            </form>
          </section>
          <section class="card">
            <h2>Preview an edit</h2>
            <form method="post" action="/ui/rules/preview">
              <input type="hidden" name="csrf" value="{{csrf}}">
              <label for="rules-text">Rules file (YAML)</label>
              <textarea id="rules-text" name="rules" rows="16" spellcheck="false">{{draft}}</textarea>
              <button type="submit">Preview plan</button>
            </form>
            {{#preview}}
            <h3 id="plan-title">{{previewTitle}}</h3>
            <pre id="plan">{{previewText}}</pre>
            {{/preview}}
          </section>
        </div>
        <section class="card">
          <h2>The file on disk</h2>
          <pre class="source">{{text}}</pre>
        </section>
        {{/body}}{{/layout}}
        """

    static let runs = """
        {{<layout}}{{$body}}
        <h1>Passes</h1>
        {{#hasRuns}}
        <table id="runs">
          <thead><tr><th scope="col">Pass</th><th scope="col">Mode</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Progress</th><th scope="col">Counts</th></tr></thead>
          <tbody>
          {{#runs}}<tr><td>{{id}}</td><td>{{mode}}</td><td><span class="badge {{tone}}">{{status}}</span></td><td>{{started}}</td><td>{{finished}}</td><td>{{progress}}</td><td>{{counts}}</td></tr>{{/runs}}
          </tbody>
        </table>
        {{/hasRuns}}
        {{^runs}}<p class="muted">No pass has run yet.</p>{{/runs}}
        {{/body}}{{/layout}}
        """

    static let message = """
        {{<layout}}{{$body}}
        <section class="card narrow"><h1>{{heading}}</h1><p>{{text}}</p></section>
        {{/body}}{{/layout}}
        """

    /// Contrast (WCAG 2): body text #1f2937 on white 14.7:1; muted #4b5563 7.6:1; links and
    /// buttons #1d4ed8 6.7:1; badges' dark text on their tints above 6:1.
    static let css = """
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;background:#f3f4f6}
        a{color:#1d4ed8}
        .top{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#ffffff;border-bottom:1px solid #d1d5db}
        .brand{font-weight:700;font-size:18px;color:#111827;text-decoration:none}
        nav{display:flex;gap:4px;flex:1}
        nav a{padding:6px 12px;border-radius:6px;text-decoration:none;color:#1f2937}
        nav a[aria-current=page]{background:#dbeafe;color:#1e3a8a;font-weight:600}
        nav.locations{font-size:.9em}
        nav.locations a[aria-current=location]{background:#fef3c7;color:#78350f;font-weight:600}
        .logout{margin:0}
        main{max-width:1200px;margin:0 auto;padding:24px}
        h1{font-size:24px;margin:0 0 16px}
        h2{font-size:17px;margin:0 0 12px}
        h3{font-size:15px;margin:16px 0 8px}
        .subtitle{margin:-12px 0 16px;color:#4b5563}
        .card{background:#ffffff;border:1px solid #d1d5db;border-radius:10px;padding:16px 20px;margin-bottom:16px;overflow-x:auto}
        .narrow{max-width:420px;margin:48px auto}
        .columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
        .columns .card{margin-bottom:0}
        .columns{margin-bottom:16px}
        .tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:16px}
        .tile{background:#ffffff;border:1px solid #d1d5db;border-radius:10px;padding:12px 16px;display:flex;flex-direction:column}
        .tile .label{color:#4b5563;font-size:13px}
        .tile .figure{font-size:26px;font-weight:700}
        .figure.bad{color:#b91c1c}
        .muted{color:#4b5563}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
        th{font-size:13px;color:#374151}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
        dt{color:#4b5563}
        dd{margin:0}
        label{display:block;font-weight:600;margin-bottom:4px}
        input[type=password],input[type=search],textarea{width:100%;padding:8px 10px;border:1px solid #6b7280;border-radius:6px;font:inherit;color:#111827;background:#ffffff}
        textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
        button{margin-top:8px;padding:8px 14px;border:0;border-radius:6px;background:#1d4ed8;color:#ffffff;font:inherit;font-weight:600;cursor:pointer}
        button.small{margin:0;padding:4px 10px;font-size:13px}
        button.quiet{margin:0;background:transparent;color:#1d4ed8;border:1px solid #1d4ed8}
        button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
        .search{display:grid;grid-template-columns:1fr auto;gap:0 8px;align-items:end;margin-bottom:16px}
        .search label{grid-column:1/3}
        .search button{margin:0}
        pre{background:#f9fafb;border:1px solid #e5e7eb;border-radius:6px;padding:12px;overflow-x:auto;font-size:13px;color:#111827}
        .badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;background:#e5e7eb;color:#1f2937}
        .badge.good{background:#dcfce7;color:#166534}
        .badge.bad{background:#fee2e2;color:#991b1b}
        .badge.warn{background:#fef3c7;color:#92400e}
        .alert{background:#fee2e2;color:#991b1b;padding:8px 12px;border-radius:6px}
        .ok{background:#dcfce7;color:#166534;padding:8px 12px;border-radius:6px}
        .note{color:#92400e}
        .diagnostics{padding-left:18px}
        .diagnostics .error{color:#991b1b}
        .diagnostics .warning{color:#92400e}
        .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
        svg text{font-size:11px;fill:#374151}
        .legend{display:flex;gap:16px;font-size:13px;color:#374151;margin-top:4px}
        .legend span::before{content:"";display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;background:var(--c)}
        """
}
