import LeadsyncCore
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

/// The end of a pass: contacts a first attempt left waiting (a create's settle time, a transient
/// fault) are come back to before the pass ends, and the page's contacts run concurrently.
extension SyncPass {
    /// A contact to process, where its data came from, and (once tried) why it waits.
    struct Pending: Sendable {
        var contact: Contact
        var source: ContactSource
        /// How new the data is: when its search page was asked for, less `searchLag`, or when
        /// the contact was read. A contact processed later (at the end of the pass) keeps it.
        var readAt: Timestamp
        var deleted = false
        var failure: Executor.Failure?
        /// Read the CallTools contact back first (`Executor.verifyApplied`): the first page of
        /// a resumed pass is the one a killed process was writing.
        var verify = false
    }

    /// At most this many contacts wait for the end of a pass (memory stays bounded); past it,
    /// a transient failure is reported at once and left to the next pass or the server.
    static let maxWaiting = 20_000

    /// How far GHL's search index may lag its writes ("a few seconds", docs/upstreams.md), with
    /// room to spare: search data counts as this much older than the request that read it, so
    /// a webhook applied for the contact within that time makes the pass read it again
    /// (`Executor.refresh`) instead of rolling it back.
    static let searchLag: Int64 = 60_000

    /// Counts outcomes; transient failures wait for the end of the pass, others are reported.
    func tally(
        _ outcomes: [(Pending, Result<Executor.Outcome, Executor.Failure>)], into progress: inout Progress,
        waiting: inout [Pending], onError: (Executor.Failure) -> Void
    ) {
        for (item, result) in outcomes {
            switch result {
            case .success(let outcome):
                progress.rereads += outcome.rereads
                switch outcome.action {
                case .created: progress.created += 1
                case .updated: progress.updated += 1
                case .unchanged: progress.unchanged += 1
                case .skipped: progress.skipped += 1
                }
            case .failure(let failure):
                progress.failed += 1
                if failure.transient && waiting.count < Self.maxWaiting {
                    var again = item
                    again.failure = failure
                    waiting.append(again)
                } else {
                    onError(failure)
                }
            }
        }
    }

    /// The end of a pass: comes back to every contact a first attempt left waiting (a create
    /// that may still be in flight, a transient fault), and to create intents an earlier,
    /// interrupted run left behind; waits as long as they need, within `maxWait`, and finishes
    /// them. What still fails is reported with its last error.
    func finish(
        _ waiting: inout [Pending], progress: inout Progress, catalog: CustomFieldCatalog, options: Options,
        onError: (Executor.Failure) -> Void, onWait: (String) -> Void
    ) async throws {
        // Intents an interrupted run left on pages before its checkpoint: read the contact again.
        let known = Set(waiting.map(\.contact.id))
        for id in try store.pendingCreateIds() where !known.contains(id) {
            let left = Executor.Failure(
                contactId: id, message: "a create left pending by an earlier run", transient: true)
            do {
                let fresh = try await ghl.contact(id)
                let contact = try InboundContact.decode(
                    fresh, catalog: catalog, defaultEventType: "batch", expecting: .api
                ).contact
                waiting.append(Pending(contact: contact, source: .read, readAt: now(), failure: left))
            } catch let error as UpstreamError where error.meansContactGone {
                waiting.append(
                    Pending(
                        contact: Contact(id: id, eventType: "batch"), source: .read, readAt: now(), deleted: true,
                        failure: left))
            } catch {
                onError(Executor.Failure(contactId: id, message: "\(left.message): \(error)", transient: true))
                continue
            }
            progress.failed += 1  // counted as waiting; finishing it takes it back
        }
        let maxWaitMs = Int64(options.maxWait / .milliseconds(1))
        var waitedMs: Int64 = 0
        var round = 0
        while !waiting.isEmpty {
            round += 1
            let nowMs = now().milliseconds
            let settling = waiting.filter { $0.failure?.settlesAt != nil }
            let settleMs =
                settling.compactMap { $0.failure?.settlesAt.map { max(0, $0.milliseconds - nowMs) } }.max() ?? 0
            let faulted = waiting.count - settling.count
            // Settles wait exactly as long as they must; other transient faults back off
            // (1 s, 2 s, 4 s ... 30 s), as the upstream clients' own retries do between calls.
            let backoffMs: Int64 = faulted > 0 && round > 1 ? min(30_000, 1000 << Int64(min(round - 2, 5))) : 0
            let waitMs = max(settleMs > 0 ? settleMs + 100 : 0, backoffMs)
            guard round <= 20, waitedMs + waitMs <= maxWaitMs else { break }
            if waitMs > 0 {
                let seconds = (waitMs + 999) / 1000
                var what: [String] = []
                if !settling.isEmpty {
                    what.append("\(settling.count) create\(settling.count == 1 ? "" : "s") to settle")
                }
                if faulted > 0 { what.append("\(faulted) contact\(faulted == 1 ? "" : "s") to retry") }
                onWait("waiting \(seconds) s for " + what.joined(separator: " and "))
                try await Task.sleep(for: .milliseconds(waitMs))
                waitedMs += waitMs
            }
            let outcomes = await process(waiting, concurrency: options.concurrency)
            waiting = []
            for (item, result) in outcomes {
                switch result {
                case .success:
                    // Counted failed when it first waited: finished now.
                    progress.failed -= 1
                    progress.recovered += 1
                    tally([(item, result)], into: &progress, waiting: &waiting, onError: onError)
                case .failure(let failure):
                    // Still counted failed once; it waits another round, or is reported.
                    if failure.transient {
                        var again = item
                        again.failure = failure
                        waiting.append(again)
                    } else {
                        onError(failure)
                    }
                }
            }
        }
        progress.waited = .milliseconds(waitedMs)
        for item in waiting {
            if let failure = item.failure { onError(failure) }
        }
    }

    /// Processes contacts with at most `concurrency` in flight.
    func process(
        _ items: [Pending], concurrency: Int
    ) async
        -> [(Pending, Result<Executor.Outcome, Executor.Failure>)]
    {
        var results: [(Pending, Result<Executor.Outcome, Executor.Failure>)] = []
        results.reserveCapacity(items.count)
        await withTaskGroup(of: (Pending, Result<Executor.Outcome, Executor.Failure>).self) { group in
            var next = 0
            func add() {
                let item = items[next]
                next += 1
                let readAt = item.readAt
                // The page may show the contact as it was up to `searchLag` before its request,
                // or as late as now.
                let latest = now()
                group.addTask {
                    do {
                        // Search results may lack fields a full read has (dndSettings). No older
                        // event may override this data, nor this data what a newer one applied.
                        return (
                            item,
                            .success(
                                try await executor.process(
                                    item.contact, deleted: item.deleted, source: item.source, observedAt: readAt,
                                    observedUntil: latest,
                                    verify: item.verify))
                        )
                    } catch let failure as Executor.Failure {
                        return (item, .failure(failure))
                    } catch {
                        return (
                            item,
                            .failure(
                                Executor.Failure(contactId: item.contact.id, message: "\(error)", transient: false))
                        )
                    }
                }
            }
            while next < items.count && next < max(1, concurrency) { add() }
            while let r = await group.next() {
                results.append(r)
                if next < items.count { add() }
            }
        }
        return results
    }
}
