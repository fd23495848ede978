import IavfChecker
import IavfModel
import IavfTrace

/// What a trace shows over time, per device: the VLANs' states from the snapshots, the
/// VLAN messages paired with their replies, down periods, resets and driver calls. Built
/// once from the events; the Perfetto exporter and the HTML report both draw from it.
/// Unlike `check`, it keeps the trace in memory (a report is drawn from all of it).
public struct TraceTimeline: Sendable {
    /// A VLAN in one state: from the snapshot that first showed it in that state to the
    /// first later snapshot that shows another state or no such filter.
    public struct StateSpan: Sendable, Equatable {
        public var key: VlanKey
        public var state: FilterState
        public var startSeq: Int64, startNs: Int64
        public var endSeq: Int64, endNs: Int64
        /// Still in this state at the device's last event (no snapshot ended it).
        public var openEnded: Bool
    }

    /// A virtchnl message the VF sent and, when the trace has it, the PF's reply.
    public struct Message: Sendable, Equatable {
        /// Unique within the timeline (flow ids).
        public var id: Int
        public var op: String
        public var vids: [VlanKey]
        public var sendSeq: Int64, sendNs: Int64
        public var sendRet: Int32?
        public var replySeq: Int64?, replyNs: Int64?
        public var retval: Int32?
        public var isVlan: Bool
    }

    /// A reply no recorded send explains (recording began after the send).
    public struct Reply: Sendable, Equatable {
        public var op: String
        public var seq: Int64, tNs: Int64
        public var retval: Int32
        /// The message it answers, when there is one.
        public var messageID: Int?
    }

    /// An interval: a call from enter to exit, a down period, a reset.
    public struct Span: Sendable, Equatable {
        public var name: String
        public var startSeq: Int64, startNs: Int64
        public var endSeq: Int64, endNs: Int64
        /// The trace ends before the interval does.
        public var openEnded: Bool
    }

    /// A VLAN the PF had programmed, in time only: a PF log's events have their own seq.
    public struct PFSpan: Sendable, Equatable {
        public var key: VlanKey
        public var startNs: Int64, endNs: Int64
        public var openEnded: Bool
    }

    /// A point event: mark, settled, lost, pf, caps.
    public struct Instant: Sendable, Equatable {
        public var kind: String
        public var seq: Int64, tNs: Int64
        public var text: String
    }

    public struct Device: Sendable {
        public var name: String
        /// The device's events in trace order (the HTML timelines window over them).
        public var events: [TraceEvent] = []
        public var states: [StateSpan] = []
        public var messages: [Message] = []
        public var replies: [Reply] = []
        /// From `down` to the next successful `open` exit: the device is down.
        public var downs: [Span] = []
        /// `reset` enter to exit.
        public var resets: [Span] = []
        /// ndo and driver calls, enter to exit (add_vid, kill_vid, open, close, down, up_complete).
        public var calls: [Span] = []
        public var instants: [Instant] = []
        /// When the PF had each VLAN programmed for this VF, from `pf` events (in the trace,
        /// or the emulated PF's own log merged by `AnalyzedTrace.load(path:pfLog:)`).
        public var pfProgrammed: [PFSpan] = []
        /// Every VLAN a snapshot listed, sorted.
        public var vlans: [VlanKey] = []

        /// The position of `seq` in `events` (the first event at or after it).
        public func index(ofSeq seq: Int64) -> Int {
            var lo = 0, hi = events.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if events[mid].seq < seq { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }

        /// `t_ns` of the event `seq` (or of the nearest later one).
        public func tNs(ofSeq seq: Int64) -> Int64? {
            guard !events.isEmpty else { return nil }
            return events[min(index(ofSeq: seq), events.count - 1)].tNs
        }
    }

    public var header: TraceHeader
    public var devices: [Device]
    /// `t_ns` of the first event: exporters count time from here.
    public var firstNs: Int64
    public var lastNs: Int64

    public func device(_ name: String) -> Device? { devices.first { $0.name == name } }
}

/// Builds a `TraceTimeline` event by event.
public final class TimelineBuilder {
    private struct Work {
        var dev: TraceTimeline.Device
        var openStates: [VlanKey: (state: FilterState, seq: Int64, ns: Int64)] = [:]
        var vlans: Set<VlanKey> = []
        /// Sends without a reply yet, oldest first.
        var outstanding: [Int] = []
        /// Message id -> position in `dev.messages`.
        var messageAt: [Int: Int] = [:]
        var callEnters: [String: [(seq: Int64, ns: Int64)]] = [:]
        var downSince: (seq: Int64, ns: Int64)?
        var downEnter: (seq: Int64, ns: Int64)?
        var resetSince: (seq: Int64, ns: Int64)?
    }

    private let header: TraceHeader
    private var work: [Work] = []
    /// Per device: what the PF has programmed now, since when; and the closed spans.
    private var pfOpen: [String: [VlanKey: Int64]] = [:]
    private var pfSpans: [String: [TraceTimeline.PFSpan]] = [:]
    private var pfLastNs: [String: Int64] = [:]
    private var index: [String: Int] = [:]
    private var nextMessageID = 1
    private var firstNs: Int64?
    private var lastNs: Int64 = 0

    public init(header: TraceHeader) { self.header = header }

    public func feed(_ e: TraceEvent) {
        if firstNs == nil { firstNs = e.tNs }
        lastNs = e.tNs
        let i: Int
        if let j = index[e.dev] { i = j } else {
            i = work.count
            index[e.dev] = i
            work.append(Work(dev: .init(name: e.dev)))
        }
        work[i].dev.events.append(e)
        apply(e, &work[i])
    }

    private func apply(_ e: TraceEvent, _ w: inout Work) {
        switch e.body {
        case .snapshot(let filters, _, _):
            var seen: Set<VlanKey> = []
            for f in filters where seen.insert(f.key).inserted {
                w.vlans.insert(f.key)
                if let o = w.openStates[f.key], o.state == f.state { continue }
                close(f.key, at: e, &w)
                w.openStates[f.key] = (f.state, e.seq, e.tNs)
            }
            for k in w.openStates.keys where !seen.contains(k) { close(k, at: e, &w) }
        case .send(let op, let vids, let ret):
            let id = nextMessageID
            nextMessageID += 1
            w.messageAt[id] = w.dev.messages.count
            w.dev.messages.append(.init(id: id, op: op.name, vids: vids, sendSeq: e.seq, sendNs: e.tNs, sendRet: ret,
                                        replySeq: nil, replyNs: nil, retval: nil, isVlan: op.isVlanFilterOp))
            // A send the driver failed to post gets no reply.
            if ret == nil || ret == 0 {
                w.outstanding.append(id)
                // Sends whose replies were never recorded must not make pairing quadratic.
                if w.outstanding.count > 16 { w.outstanding.removeFirst() }
            }
        case .reply(let op, let retval):
            // The driver has one message in flight; a reply answers the latest send of its op.
            var answered: Int?
            var pos: Int?
            for (j, id) in w.outstanding.enumerated().reversed() {
                if let m = w.messageAt[id], w.dev.messages[m].op == op.name { pos = j; break }
            }
            if let pos {
                answered = w.outstanding.remove(at: pos)
                if let m = answered.flatMap({ w.messageAt[$0] }) {
                    w.dev.messages[m].replySeq = e.seq
                    w.dev.messages[m].replyNs = e.tNs
                    w.dev.messages[m].retval = retval
                }
            }
            w.dev.replies.append(.init(op: op.name, seq: e.seq, tNs: e.tNs, retval: retval, messageID: answered))
        case .reset(let p):
            if p == .enter {
                // A reset swallows the reply of whatever was in flight.
                w.outstanding.removeAll()
                if w.resetSince == nil { w.resetSince = (e.seq, e.tNs) }
            } else if let s = w.resetSince {
                w.dev.resets.append(.init(name: "reset", startSeq: s.seq, startNs: s.ns, endSeq: e.seq, endNs: e.tNs, openEnded: false))
                w.resetSince = nil
            }
        case .down(let p):
            call("down", p, e, &w)
            if p == .enter { w.downEnter = (e.seq, e.tNs) }
            else if w.downSince == nil { w.downSince = w.downEnter ?? (e.seq, e.tNs) }
        case .open(let p, let ret):
            call("open", p, e, &w)
            if p == .exit, ret == 0, let s = w.downSince {
                w.dev.downs.append(.init(name: "down", startSeq: s.seq, startNs: s.ns, endSeq: e.seq, endNs: e.tNs, openEnded: false))
                w.downSince = nil
                w.downEnter = nil
            }
        case .addVid(let k, let p, _): call("add_vid \(k)", p, e, &w)
        case .killVid(let k, let p, _): call("kill_vid \(k)", p, e, &w)
        case .close(let p, _): call("close", p, e, &w)
        case .upComplete(let p): call("up_complete", p, e, &w)
        case .pf(let vids, _):
            feedPF(dev: e.dev, tNs: e.tNs, vids: vids)
            w.dev.instants.append(.init(kind: e.kind, seq: e.seq, tNs: e.tNs, text: EventText.describe(e)))
        case .mark, .settled, .lost, .caps:
            w.dev.instants.append(.init(kind: e.kind, seq: e.seq, tNs: e.tNs, text: EventText.describe(e)))
        case .unknown: break
        }
    }

    /// The PF's programmed set for `dev` at `tNs` (a `pf` event of the trace or of a PF log).
    public func feedPF(dev: String, tNs: Int64, vids: [VlanKey]) {
        let now = Set(vids)
        var open = pfOpen[dev, default: [:]]
        for (k, since) in open where !now.contains(k) {
            pfSpans[dev, default: []].append(.init(key: k, startNs: since, endNs: tNs, openEnded: false))
            open[k] = nil
        }
        for k in now where open[k] == nil { open[k] = tNs }
        pfOpen[dev] = open
        pfLastNs[dev] = max(pfLastNs[dev] ?? tNs, tNs)
    }

    private func call(_ name: String, _ p: TraceEvent.Phase, _ e: TraceEvent, _ w: inout Work) {
        if p == .enter {
            w.callEnters[name, default: []].append((e.seq, e.tNs))
        } else if let s = w.callEnters[name]?.popLast() {
            w.dev.calls.append(.init(name: name, startSeq: s.seq, startNs: s.ns, endSeq: e.seq, endNs: e.tNs, openEnded: false))
        }
    }

    private func close(_ k: VlanKey, at e: TraceEvent, _ w: inout Work) {
        guard let o = w.openStates.removeValue(forKey: k) else { return }
        w.dev.states.append(.init(key: k, state: o.state, startSeq: o.seq, startNs: o.ns, endSeq: e.seq, endNs: e.tNs, openEnded: false))
    }

    public func finish() -> TraceTimeline {
        var devices: [TraceTimeline.Device] = []
        for var w in work {
            guard let last = w.dev.events.last else { continue }
            for (k, o) in w.openStates {
                w.dev.states.append(.init(key: k, state: o.state, startSeq: o.seq, startNs: o.ns,
                                          endSeq: last.seq, endNs: last.tNs, openEnded: true))
            }
            if let s = w.downSince {
                w.dev.downs.append(.init(name: "down", startSeq: s.seq, startNs: s.ns, endSeq: last.seq, endNs: last.tNs, openEnded: true))
            }
            if let s = w.resetSince {
                w.dev.resets.append(.init(name: "reset", startSeq: s.seq, startNs: s.ns, endSeq: last.seq, endNs: last.tNs, openEnded: true))
            }
            for (name, enters) in w.callEnters {
                for s in enters {
                    w.dev.calls.append(.init(name: name, startSeq: s.seq, startNs: s.ns, endSeq: last.seq, endNs: last.tNs, openEnded: true))
                }
            }
            w.dev.states.sort { ($0.key, $0.startSeq) < ($1.key, $1.startSeq) }
            w.dev.calls.sort { ($0.startSeq, $1.endSeq) < ($1.startSeq, $0.endSeq) }
            let end = max(last.tNs, pfLastNs[w.dev.name] ?? last.tNs)
            w.dev.pfProgrammed = pfSpans[w.dev.name, default: []]
                + (pfOpen[w.dev.name] ?? [:]).map { .init(key: $0.key, startNs: $0.value, endNs: end, openEnded: true) }
            w.dev.pfProgrammed.sort { ($0.key, $0.startNs) < ($1.key, $1.startNs) }
            w.dev.vlans = w.vlans.sorted()
            devices.append(w.dev)
        }
        return TraceTimeline(header: header, devices: devices, firstNs: firstNs ?? 0, lastNs: lastNs)
    }
}

/// A trace read once: the checker's report and the timeline, as the exporters need them.
public struct AnalyzedTrace: Sendable {
    public var path: String
    /// The PF log merged into the timeline, if any.
    public var pfLog: String? = nil
    public var report: CheckReport
    public var timeline: TraceTimeline

    /// Reads `path` (plain, gzip or "-") and runs the checker and the timeline builder over it.
    /// Bad input throws `TraceReadError`, as `check` does.
    public static func load(path: String, pfLog: String? = nil, context: Int = 6, maxFindings: Int = 10_000,
                            warn: (String) -> Void = { _ in }) throws -> AnalyzedTrace {
        let reader = try TraceReader(path: path)
        let checker = Checker(header: reader.header, contextDepth: context, maxStoredFindings: maxFindings)
        let builder = TimelineBuilder(header: reader.header)
        while let e = try reader.next() {
            checker.feed(e)
            if let refused = checker.refusal {
                throw TraceReadError(file: path, line: reader.line, field: refused.field, message: refused.message)
            }
            builder.feed(e)
        }
        // The emulated PF's log (`suite run` writes pf-K.jsonl beside trace-K.jsonl): same
        // guest clock, its own seq; only its `pf` events matter here.
        if let pfLog {
            let pr = try TraceReader(path: pfLog)
            while let e = try pr.next() {
                if case .pf(let vids, _) = e.body { builder.feedPF(dev: e.dev, tNs: e.tNs, vids: vids) }
            }
        }
        for (kind, n) in reader.unknownKinds.sorted(by: { $0.key < $1.key }) {
            warn("iavf-check: warning: \(path): skipped \(n) event\(n == 1 ? "" : "s") of unknown kind '\(kind)'")
        }
        return AnalyzedTrace(path: path, pfLog: pfLog, report: checker.finish(), timeline: builder.finish())
    }
}
