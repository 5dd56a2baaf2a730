import CoreMetrics
import LeadsyncCore
import LeadsyncUpstream
import LeadsyncValues
import Prometheus

/// The server's Prometheus metrics, through swift-metrics with an explicit factory: no global
/// bootstrap, so every server (and every test) has its own registry. Labels are bounded: outcome
/// names, services, status codes, and the rule and exclusion names of the rules file; never a
/// contact id.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory
    /// The GHL location every metric is labelled with (several locations in one appliance
    /// share one registry); nil: no label (single-location mode).
    public let location: String?
    let webhookCounters: [String: CoreMetrics.Counter]
    /// The same outcomes per minute over the last hour, for the operator page.
    public let activity = WebhookActivity()
    let queueDepth: CoreMetrics.Gauge
    let deadLetterGauge: CoreMetrics.Gauge
    let deadLetterCounter: CoreMetrics.Counter
    let processing: CoreMetrics.Timer
    let intake: CoreMetrics.Timer

    /// Webhook outcomes, one label value each.
    public static let webhookOutcomes = [
        "accepted", "duplicate", "ignored", "unauthorized", "forbidden", "bad_request", "too_large", "too_slow",
        "store_failed", "app_event",
    ]

    public convenience init() {
        self.init(registry: PrometheusCollectorRegistry(), location: nil)
    }

    /// Metrics in `registry`, each labelled `location` when one is given (the label set is the
    /// configured locations, so it is bounded).
    public init(registry: PrometheusCollectorRegistry, location: String?) {
        self.registry = registry
        self.location = location
        var prometheus = PrometheusMetricsFactory(registry: registry)
        prometheus.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ]
        let f: any MetricsFactory = location.map { LocationLabel(base: prometheus, location: $0) } ?? prometheus
        factory = f
        var counters: [String: CoreMetrics.Counter] = [:]
        for o in Self.webhookOutcomes {
            counters[o] = CoreMetrics.Counter(
                label: "leadsync_webhooks_total", dimensions: [("outcome", o)], factory: f)
        }
        webhookCounters = counters
        queueDepth = CoreMetrics.Gauge(label: "leadsync_queue_depth", factory: f)
        deadLetterGauge = CoreMetrics.Gauge(label: "leadsync_dead_letters", factory: f)
        deadLetterCounter = CoreMetrics.Counter(label: "leadsync_dead_letters_total", factory: f)
        processing = CoreMetrics.Timer(label: "leadsync_processing_seconds", factory: f)
        intake = CoreMetrics.Timer(label: "leadsync_intake_seconds", factory: f)
        for r in ["ok", "failed"] {
            _ = CoreMetrics.Counter(label: "leadsync_rules_reloads_total", dimensions: [("result", r)], factory: f)
        }
    }

    func webhook(_ outcome: String) {
        webhookCounters[outcome]?.increment()
        activity.record(outcome, at: .now())
    }

    func intakeTook(_ d: Duration) { intake.recordNanoseconds(Int64(d / .nanoseconds(1))) }

    /// From acceptance to applied, per event.
    func processed(after d: Duration) { processing.recordNanoseconds(max(0, Int64(d / .nanoseconds(1)))) }

    func inbox(_ counts: InboxCountsSnapshot) {
        queueDepth.record(counts.pending + counts.held)
        deadLetterGauge.record(counts.dead)
    }

    func deadLettered(_ n: Int) { if n > 0 { deadLetterCounter.increment(by: n) } }

    /// A signed webhook answered 200 `ignored`, by reason (`not-a-contact-event`, `too-old`).
    func ignored(reason: String) {
        CoreMetrics.Counter(
            label: "leadsync_webhooks_ignored_total", dimensions: [("reason", reason)], factory: factory
        )
        .increment()
    }

    /// A GHL token refresh, by location and result (`ok`, `retry`, `lost`).
    func tokenRefresh(location: String, result: String) {
        CoreMetrics.Counter(
            label: "leadsync_ghl_token_refreshes_total", dimensions: [("location", location), ("result", result)],
            factory: factory
        )
        .increment()
    }

    /// 1 while a location's OAuth connection works, 0 while it needs a person (not connected, lost).
    func ghlConnected(location: String, _ connected: Bool) {
        CoreMetrics.Gauge(label: "leadsync_ghl_connected", dimensions: [("location", location)], factory: factory)
            .record(connected ? 1 : 0)
    }

    /// An event older than the data the contact's state was decided on: re-read, not applied.
    func outOfOrder() {
        CoreMetrics.Counter(label: "leadsync_events_out_of_order_total", factory: factory).increment()
    }

    func reload(ok: Bool) {
        CoreMetrics.Counter(
            label: "leadsync_rules_reloads_total", dimensions: [("result", ok ? "ok" : "failed")], factory: factory
        )
        .increment()
    }

    func decision(rules: [String], exclusions: [String]) {
        for r in rules.isEmpty ? ["none"] : rules {
            CoreMetrics.Counter(label: "leadsync_decisions_total", dimensions: [("rule", r)], factory: factory)
                .increment()
        }
        for e in exclusions {
            CoreMetrics.Counter(label: "leadsync_exclusions_total", dimensions: [("exclusion", e)], factory: factory)
                .increment()
        }
    }

    /// Every upstream attempt: by service and status (`error` when no answer came); a retry is
    /// any attempt after the first.
    public func upstream(_ r: CallRecord) {
        let status = r.status.map(String.init) ?? "error"
        CoreMetrics.Counter(
            label: "leadsync_upstream_calls_total", dimensions: [("service", r.service.rawValue), ("status", status)],
            factory: factory
        ).increment()
        if r.attempt > 1 {
            CoreMetrics.Counter(
                label: "leadsync_upstream_retries_total", dimensions: [("service", r.service.rawValue)],
                factory: factory
            )
            .increment()
        }
    }

    /// 1 while GHL's daily budget is spent (batch work stopped until the day turns), else 0.
    func dailyBudget(service: String, exhausted: Bool) {
        CoreMetrics.Gauge(
            label: "leadsync_upstream_daily_budget_exhausted", dimensions: [("service", service)], factory: factory
        )
        .record(exhausted ? 1 : 0)
    }

    /// An upstream's circuit breaker: `leadsync_upstream_circuit_open` is 1 while it is open
    /// (half-open counts as open), and each opening counts in `leadsync_upstream_circuit_opened_total`.
    func circuit(upstream: String, state: CircuitBreaker.State) {
        CoreMetrics.Gauge(
            label: "leadsync_upstream_circuit_open", dimensions: [("service", upstream)], factory: factory
        )
        .record(state == .closed ? 0 : 1)
        let opened = CoreMetrics.Counter(
            label: "leadsync_upstream_circuit_opened_total", dimensions: [("service", upstream)], factory: factory)
        if state == .open { opened.increment() }
    }

    /// How long each upstream's breaker has been open (0 while closed), refreshed per scrape.
    func circuitOpenFor(upstream: String, seconds: Double) {
        CoreMetrics.Gauge(
            label: "leadsync_upstream_circuit_open_seconds", dimensions: [("service", upstream)], factory: factory
        )
        .record(seconds)
    }

    func syncRun(mode: String, result: String) {
        CoreMetrics.Counter(
            label: "leadsync_sync_runs_total", dimensions: [("mode", mode), ("result", result)], factory: factory
        )
        .increment()
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}

/// Inbox counts as the metrics need them.
struct InboxCountsSnapshot {
    var pending: Int
    var dead: Int
    var held = 0
}

/// Adds `location` to the dimensions of every metric made through it.
struct LocationLabel: MetricsFactory {
    let base: PrometheusMetricsFactory
    let location: String

    func labelled(_ dimensions: [(String, String)]) -> [(String, String)] {
        dimensions.contains { $0.0 == "location" } ? dimensions : [("location", location)] + dimensions
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        base.makeCounter(label: label, dimensions: labelled(dimensions))
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        base.makeFloatingPointCounter(label: label, dimensions: labelled(dimensions))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        base.makeMeter(label: label, dimensions: labelled(dimensions))
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        base.makeRecorder(label: label, dimensions: labelled(dimensions), aggregate: aggregate)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        base.makeTimer(label: label, dimensions: labelled(dimensions))
    }

    func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        base.destroyFloatingPointCounter(handler)
    }
    func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
