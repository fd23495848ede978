import Histogram
import IavfModel
import IavfTrace

/// Cuts a probe trace of the down/up loop into cycles and measures each from the probes' own
/// timestamps. A cycle is a window of the cycled device's probe events: it opens at a `close`
/// enter and ends at the device's next `close` enter, or at the loop's own VLAN work (an
/// add/kill of a non-zero VID: the next count's set-up), or at the end of the trace. The marks
/// (`downup vlans=K iter=I`) only name the windows: a mark comes from the command's output and
/// can reach the recorder after the next cycle's first probe events, so it labels the latest
/// window whose `open` came before it, and counts never depend on where it landed.
///  - down: from `close` enter to the last DISABLE_QUEUES or VLAN reply before `open` enter,
///  - up: from `open` enter to the last ENABLE_QUEUES or VLAN reply of the cycle (link up and
///    every filter back, which is when the driver has settled),
///  - the messages the cycle sent, by opcode.
public struct DownUpCycle: Sendable {
    public var vlans: Int
    public var iteration: Int
    public var downNs: Int64?
    public var upNs: Int64?
    public var messages: [String: Int]
    public var vlanMessages: Int { messages.filter { VirtchnlOp.named($0.key).isVlanFilterOp }.values.reduce(0, +) }
}

public struct DownUpStats: Sendable {
    public var vlans: Int
    public var cycles: Int
    public var p50Ms: Double, p90Ms: Double, p99Ms: Double, maxMs: Double
    public var downP50Ms: Double
    public var vlanMessagesPerCycle: Double
    public var messagesPerCycle: [String: Double]
}

/// A trace the analysis cannot cut into cycles exactly.
public struct DownUpAnalysisError: Error, CustomStringConvertible {
    public var description: String
    public init(_ s: String) { description = s }
}

public enum DownUpAnalysis {
    /// `dev`: the cycled VF's name in the trace; nil finds it (the device with the most `close` enters).
    public static func cycles(trace path: String, dev: String? = nil) throws -> [DownUpCycle] {
        let r = try TraceReader(path: path)
        var events: [TraceEvent] = []
        while let e = try r.next() { events.append(e) }
        do {
            return try cycles(events: events, dev: dev)
        } catch let e as DownUpAnalysisError {
            throw DownUpAnalysisError("\(path): \(e.description)")
        }
    }

    /// The device the loop took down and up: the one with the most `close` enters.
    public static func cycledDevice(_ events: [TraceEvent]) throws -> String {
        var closes: [String: Int] = [:]
        for e in events { if case .close(.enter, _) = e.body { closes[e.dev, default: 0] += 1 } }
        let ranked = closes.sorted { $0.value > $1.value }
        guard let top = ranked.first else { throw DownUpAnalysisError("no device was taken down (no close event)") }
        if ranked.count > 1 && ranked[1].value == top.value {
            throw DownUpAnalysisError("devices \(ranked.filter { $0.value == top.value }.map(\.key).sorted()) were each taken down \(top.value) times: name the cycled one")
        }
        return top.key
    }

    public static func cycles(events: [TraceEvent], dev: String? = nil) throws -> [DownUpCycle] {
        let device = try dev ?? cycledDevice(events)
        struct Window {
            var close: Int64
            var open: Int64?
            var lastDown: Int64?, lastUp: Int64?
            var messages: [String: Int] = [:]
            var label: (vlans: Int, iteration: Int)?
        }
        var windows: [Window] = []
        var current: Int?
        for e in events {
            if case .mark(let text, _) = e.body {
                guard let (k, i) = parse(text) else { continue }
                guard let w = windows.lastIndex(where: { $0.open != nil }) else {
                    throw DownUpAnalysisError("mark '\(text)' at seq \(e.seq) comes before any down/up of \(device)")
                }
                if let old = windows[w].label {
                    throw DownUpAnalysisError("mark '\(text)' at seq \(e.seq): the last down/up of \(device) before it is already 'vlans=\(old.vlans) iter=\(old.iteration)' (a close or open event is missing)")
                }
                windows[w].label = (k, i)
                continue
            }
            guard e.dev == device else { continue }
            switch e.body {
            case .close(.enter, _):
                windows.append(Window(close: e.tNs))
                current = windows.count - 1
            case .addVid(let key, .enter, _), .killVid(let key, .enter, _):
                // 8021q adds and drops VID 0 on every up and down: part of the cycle. Any
                // other VID is the loop's set-up for the next count.
                if key.vid != 0 { current = nil }
            case .open(.enter, _):
                if let c = current, windows[c].open == nil { windows[c].open = e.tNs }
            case .send(let op, _, _):
                if let c = current { windows[c].messages[op.name, default: 0] += 1 }
            case .reply(let op, _):
                guard let c = current, op.isVlanFilterOp || op == .enableQueues || op == .disableQueues else { break }
                if windows[c].open != nil { windows[c].lastUp = e.tNs } else { windows[c].lastDown = e.tNs }
            default: break
            }
        }
        // Windows without a mark (the set-up's netns move, an unfinished last cycle) are not cycles of the loop.
        return windows.compactMap { w in
            w.label.map { l in
                DownUpCycle(vlans: l.vlans, iteration: l.iteration, downNs: w.lastDown.map { $0 - w.close },
                            upNs: w.open.flatMap { o in w.lastUp.map { $0 - o } }, messages: w.messages)
            }
        }
    }

    /// "downup vlans=4 iter=7" -> (4, 7)
    static func parse(_ text: String) -> (Int, Int)? {
        guard text.hasPrefix("downup ") else { return nil }
        var k: Int?, i: Int?
        for part in text.split(separator: " ") {
            if part.hasPrefix("vlans=") { k = Int(part.dropFirst(6)) }
            if part.hasPrefix("iter=") { i = Int(part.dropFirst(5)) }
        }
        guard let k, let i else { return nil }
        return (k, i)
    }

    /// Percentiles per VLAN count (HdrHistogram, microsecond resolution).
    public static func stats(_ cycles: [DownUpCycle]) -> [DownUpStats] {
        let byK = Dictionary(grouping: cycles, by: \.vlans)
        return byK.keys.sorted().map { k in
            let cs = byK[k]!
            var up = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
            var down = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
            for c in cs {
                if let u = c.upNs { _ = up.record(UInt64(max(0, u / 1000))) }
                if let d = c.downNs { _ = down.record(UInt64(max(0, d / 1000))) }
            }
            func ms(_ h: Histogram<UInt64>, _ p: Double) -> Double { h.totalCount == 0 ? .nan : Double(h.valueAtPercentile(p)) / 1000 }
            var perOp: [String: Double] = [:]
            for c in cs { for (op, n) in c.messages { perOp[op, default: 0] += Double(n) } }
            for op in perOp.keys { perOp[op]! /= Double(max(1, cs.count)) }
            return DownUpStats(vlans: k, cycles: cs.count, p50Ms: ms(up, 50), p90Ms: ms(up, 90), p99Ms: ms(up, 99),
                               maxMs: up.totalCount == 0 ? .nan : Double(up.max) / 1000, downP50Ms: ms(down, 50),
                               vlanMessagesPerCycle: Double(cs.map(\.vlanMessages).reduce(0, +)) / Double(max(1, cs.count)),
                               messagesPerCycle: perOp)
        }
    }
}

/// Latency against VLAN count, one line per kernel, as an SVG a person reads at a glance.
public enum DownUpPlot {
    public static func svg(_ series: [(name: String, stats: [DownUpStats])]) -> String {
        let w = 720.0, h = 400.0, l = 70.0, r = 230.0, t = 40.0, b = 60.0
        let xs = Set(series.flatMap { $0.stats.map(\.vlans) }).sorted()
        // Scaled to p90: a single slow first cycle (p99) would flatten the lines everyone compares.
        let ymax = max(1, (series.flatMap { $0.stats.map { $0.p50Ms.isNaN ? 0 : $0.p90Ms.isNaN ? $0.p50Ms : $0.p90Ms } }.max() ?? 1) * 1.15)
        func x(_ k: Int) -> Double { xs.count < 2 ? l : l + Double(xs.firstIndex(of: k)!) / Double(xs.count - 1) * (w - l - r) }
        func y(_ v: Double) -> Double { t + (1 - v / ymax) * (h - t - b) }
        let colors = ["#c0392b", "#2471a3", "#27ae60", "#8e44ad"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(l))\" y=\"22\" font-size=\"15\">iavf down/up: time from ip link set up to settled (p50, bars to p90)</text>\n"
        s += "<line x1=\"\(l)\" y1=\"\(h - b)\" x2=\"\(w - r)\" y2=\"\(h - b)\" stroke=\"black\"/>\n<line x1=\"\(l)\" y1=\"\(t)\" x2=\"\(l)\" y2=\"\(h - b)\" stroke=\"black\"/>\n"
        for k in xs { s += "<text x=\"\(x(k))\" y=\"\(h - b + 18)\" text-anchor=\"middle\">\(k)</text>\n" }
        s += "<text x=\"\((l + w - r) / 2)\" y=\"\(h - 15)\" text-anchor=\"middle\">VLANs on the VF</text>\n"
        for i in 0...4 {
            let v = ymax * Double(i) / 4
            s += "<text x=\"\(l - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Int(v.rounded())) ms</text>\n"
            s += "<line x1=\"\(l)\" y1=\"\(y(v))\" x2=\"\(w - r)\" y2=\"\(y(v))\" stroke=\"#ddd\"/>\n"
        }
        for (n, sr) in series.enumerated() {
            let c = colors[n % colors.count]
            let pts = sr.stats.filter { !$0.p50Ms.isNaN }.map { "\(x($0.vlans)),\(y($0.p50Ms))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2.5\" points=\"\(pts)\"/>\n"
            for st in sr.stats where !st.p50Ms.isNaN {
                s += "<circle cx=\"\(x(st.vlans))\" cy=\"\(y(st.p50Ms))\" r=\"4\" fill=\"\(c)\"/>\n"
                if !st.p90Ms.isNaN { s += "<line x1=\"\(x(st.vlans))\" y1=\"\(y(st.p50Ms))\" x2=\"\(x(st.vlans))\" y2=\"\(y(st.p90Ms))\" stroke=\"\(c)\" stroke-width=\"2\"/>\n" }
            }
            s += "<text x=\"\(w - r + 10)\" y=\"\(t + 20 + Double(n) * 20)\" fill=\"\(c)\">\(sr.name)</text>\n"
        }
        return s + "</svg>\n"
    }
}
