import Foundation
import IavfChecker
import IavfModel
import IavfTrace

/// One entry of the Chrome trace-event format (the JSON that ui.perfetto.dev and
/// chrome://tracing open). Only the fields this exporter writes.
public struct ChromeTraceEvent: Codable, Sendable, Equatable {
    public var name: String
    public var cat: String?
    /// B/E (begin/end), X (complete, with `dur`), i (instant), s/f (flow start/finish), M (metadata).
    public var ph: String
    /// Microseconds from the trace's first event.
    public var ts: Double?
    public var dur: Double?
    public var pid: Int
    public var tid: Int?
    /// Instant scope: t (thread), p (process), g (global).
    public var s: String?
    /// Flow id: an `s` and its `f` share it.
    public var id: Int?
    /// Flow binding point: `e` binds the finish to the enclosing slice.
    public var bp: String?
    public var args: [String: String]?
}

public struct ChromeTraceFile: Codable, Sendable {
    public var traceEvents: [ChromeTraceEvent]
    public var displayTimeUnit: String?
}

/// The trace as Perfetto/chrome://tracing tracks: a process per device; in it a thread per
/// VLAN (its states as B/E slices), the VF's messages and the PF's replies joined by flow
/// arrows, driver calls, the reset task, down periods, and marks and findings as instants.
public enum PerfettoExport {
    /// Thread ids inside a device's process; VLAN tracks follow from `firstVlanTid`.
    public enum Track: Int, CaseIterable, Sendable {
        case vf = 1, pf, link, calls, resets, checker
        public var title: String {
            switch self {
            case .vf: return "VF -> PF: messages"
            case .pf: return "PF: replies"
            case .link: return "down/up"
            case .calls: return "driver calls"
            case .resets: return "reset task"
            case .checker: return "marks, settled, lost, findings"
            }
        }
    }
    public static let firstVlanTid = 100
    /// A device's tids are `pid * tidsPerDevice + n` (a VF lists at most 8192 VLANs).
    public static let tidsPerDevice = 100_000

    public static func events(_ t: AnalyzedTrace) -> [ChromeTraceEvent] {
        events(timeline: t.timeline, findings: t.report.findings, traceName: t.path)
    }

    public static func events(timeline: TraceTimeline, findings: [Finding], traceName: String) -> [ChromeTraceEvent] {
        var meta: [ChromeTraceEvent] = []
        var out: [ChromeTraceEvent] = []
        let t0 = timeline.firstNs
        func us(_ ns: Int64) -> Double { Double(ns - t0) / 1000 }
        func dus(_ a: Int64, _ b: Int64) -> Double { Double(max(0, b - a)) / 1000 }

        for (di, d) in timeline.devices.enumerated() {
            let pid = di + 1
            // Thread ids unique across processes: viewers key threads by tid as Linux does.
            func t(_ tr: Track) -> Int { pid * tidsPerDevice + tr.rawValue }
            meta.append(.init(name: "process_name", ph: "M", ts: 0, pid: pid, args: ["name": "dev \(d.name)"]))
            meta.append(.init(name: "process_sort_index", ph: "M", ts: 0, pid: pid, args: ["sort_index": String(pid)]))
            for tr in Track.allCases {
                meta.append(.init(name: "thread_name", ph: "M", ts: 0, pid: pid, tid: t(tr), args: ["name": tr.title]))
                meta.append(.init(name: "thread_sort_index", ph: "M", ts: 0, pid: pid, tid: t(tr), args: ["sort_index": String(tr.rawValue)]))
            }
            var vlanTid: [VlanKey: Int] = [:]
            for (vi, k) in d.vlans.enumerated() {
                let tid = pid * tidsPerDevice + firstVlanTid + vi
                vlanTid[k] = tid
                meta.append(.init(name: "thread_name", ph: "M", ts: 0, pid: pid, tid: tid, args: ["name": "VLAN \(k)"]))
                meta.append(.init(name: "thread_sort_index", ph: "M", ts: 0, pid: pid, tid: tid, args: ["sort_index": String(firstVlanTid + vi)]))
            }

            // VLAN states: one state at a time per track, so B/E pairs never interleave.
            for st in d.states {
                guard let tid = vlanTid[st.key] else { continue }
                var args = ["vid": String(st.key.vid), "tpid": String(st.key.tpid), "from_seq": String(st.startSeq)]
                if !st.openEnded { args["to_seq"] = String(st.endSeq) }
                out.append(.init(name: st.state.rawValue, cat: "state", ph: "B", ts: us(st.startNs), pid: pid, tid: tid, args: args))
                out.append(.init(name: st.state.rawValue, cat: "state", ph: "E", ts: us(st.endNs), pid: pid, tid: tid))
            }

            // Messages: a VF slice from send to reply, the reply a slice on the PF track, a flow between.
            var vf: [ChromeTraceEvent] = []
            for m in d.messages {
                var args = ["send_seq": String(m.sendSeq)]
                if !m.vids.isEmpty { args["vids"] = EventText.keys(m.vids) }
                if let r = m.sendRet { args["send_ret"] = String(r) }
                if let r = m.retval { args["retval"] = String(r) } else { args["reply"] = "none recorded" }
                let end = m.replyNs ?? m.sendNs
                let name = m.vids.isEmpty ? m.op : "\(m.op) [\(EventText.keys(m.vids))]"
                vf.append(.init(name: name, cat: m.isVlan ? "virtchnl,vlan" : "virtchnl", ph: "X", ts: us(m.sendNs),
                                dur: max(dus(m.sendNs, end), 0.001), pid: pid, tid: t(.vf), args: args))
                if m.replyNs != nil {
                    out.append(.init(name: m.op, cat: "virtchnl", ph: "s", ts: us(m.sendNs), pid: pid, tid: t(.vf), id: m.id))
                }
            }
            out += nested(vf)
            var pf: [ChromeTraceEvent] = []
            for r in d.replies {
                pf.append(.init(name: "\(r.op) retval \(r.retval)", cat: r.retval == 0 ? "virtchnl" : "virtchnl,error", ph: "X",
                                ts: us(r.tNs), dur: 0.001, pid: pid, tid: t(.pf),
                                args: ["seq": String(r.seq), "retval": String(r.retval)]))
                if let id = r.messageID {
                    out.append(.init(name: r.op, cat: "virtchnl", ph: "f", ts: us(r.tNs), pid: pid, tid: t(.pf), id: id, bp: "e"))
                }
            }
            out += nested(pf)

            func spans(_ ss: [TraceTimeline.Span], _ tr: Track, _ cat: String) {
                out += nested(ss.map { sp in
                    var args = ["from_seq": String(sp.startSeq)]
                    args[sp.openEnded ? "open_at_trace_end" : "to_seq"] = sp.openEnded ? "true" : String(sp.endSeq)
                    return .init(name: sp.name, cat: cat, ph: "X", ts: us(sp.startNs), dur: max(dus(sp.startNs, sp.endNs), 0.001),
                                 pid: pid, tid: t(tr), args: args)
                })
            }
            spans(d.downs, .link, "link")
            spans(d.calls, .calls, "call")
            spans(d.resets, .resets, "reset")

            for i in d.instants {
                // A loss concerns the whole device: a process-wide line.
                out.append(.init(name: i.text, cat: i.kind, ph: "i", ts: us(i.tNs), pid: pid, tid: t(.checker),
                                 s: i.kind == "lost" ? "p" : "t", args: ["seq": String(i.seq)]))
            }

            for f in findings where f.dev == d.name {
                guard let ns = d.tNs(ofSeq: f.seq) else { continue }
                var args = ["rule": f.rule.rawValue, "severity": f.severity.rawValue, "seq": String(f.seq),
                            "event": f.event, "message": f.message]
                if let k = f.key { args["vid"] = String(k.vid); args["tpid"] = String(k.tpid) }
                if let c = f.cause { args["cause"] = c.title }
                if let o = f.originSeq { args["origin_seq"] = String(o) }
                let tid = f.key.flatMap { vlanTid[$0] } ?? t(.checker)
                out.append(.init(name: "\(f.severity.rawValue) \(f.rule.rawValue)" + (f.key.map { " VLAN \($0)" } ?? ""),
                                 cat: "finding", ph: "i", ts: us(ns), pid: pid, tid: tid, s: "t", args: args))
            }
        }
        // Per-track order is by time; a stable sort keeps an E before the B that starts at its ts.
        let sorted = out.enumerated().sorted { ($0.element.ts ?? 0, $0.offset) < ($1.element.ts ?? 0, $1.offset) }.map(\.element)
        return meta + sorted
    }

    /// Makes complete slices on one track nest: a slice that starts inside another and
    /// would end after it (calls from different contexts overlap) is cut at the outer end.
    static func nested(_ slices: [ChromeTraceEvent]) -> [ChromeTraceEvent] {
        let ordered = slices.sorted { a, b in
            (a.ts ?? 0) != (b.ts ?? 0) ? (a.ts ?? 0) < (b.ts ?? 0) : (a.dur ?? 0) > (b.dur ?? 0)
        }
        var stack: [Double] = []  // end times of open slices
        var out: [ChromeTraceEvent] = []
        for var s in ordered {
            let start = s.ts ?? 0
            while let top = stack.last, top <= start { stack.removeLast() }
            if let top = stack.last, start + (s.dur ?? 0) > top { s.dur = top - start }
            stack.append(start + (s.dur ?? 0))
            out.append(s)
        }
        return out
    }

    /// The file: `{"traceEvents":[...],"displayTimeUnit":"ms"}`.
    public static func render(_ t: AnalyzedTrace) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return try enc.encode(ChromeTraceFile(traceEvents: events(t), displayTimeUnit: "ms"))
    }
}
