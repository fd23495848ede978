import IavfChecker
import IavfModel
import IavfTrace

/// One self-contained HTML file for one or more checked traces: a summary table, the cases
/// side by side, and per finding its text and an inline SVG timeline of the events around
/// it. No scripts, no external assets: it opens from disk, in a mail attachment, offline.
///
/// Stable hooks for tests and for people who script over the DOM:
/// `table#summary tr.trace-row[data-trace][data-verdict]`, `table#cases tr.case-row[data-case]`
/// with `td.case-result[data-trace][data-result]`, `article.finding[data-rule][data-vid][data-seq]`,
/// and in each timeline `g.finding-marker[data-rule][data-vid][data-seq]`, `rect.state[data-state][data-vid]`,
/// `g.msg-send[data-op]` (`.msg-vlan` for VLAN messages), `g.msg-reply[data-op][data-retval]`, `rect.band-down`, `rect.band-reset`.
public enum HTMLReport {
    public struct Options: Sendable {
        /// Timelines drawn per trace; later findings are listed without one (keeps big reports small).
        public var maxTimelines = 100
        /// Findings listed per trace.
        public var maxFindings = 500
        /// Events shown after the finding's event.
        public var eventsAfter = 3
        /// Most events in one timeline.
        public var maxWindow = 60
        public var title = "iavf-check report"
        public init() {}
    }

    public static func render(_ traces: [AnalyzedTrace], names: [String]? = nil, options: Options = .init()) -> String {
        let names = names ?? displayNames(traces.map(\.path))
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(options.title))</title>
        <style>\(css)</style>
        </head><body>
        \(TimelineSVG.defs)<h1>\(esc(options.title))</h1>

        """
        h += summary(traces, names)
        h += casesTable(traces, names)
        h += legend()
        for (ti, t) in traces.enumerated() {
            h += traceSection(t, name: names[ti], index: ti, options: options)
        }
        h += "<footer>Written by iavf-check report. Timelines run in event order (one column per event of the device), not to scale in time; hover an element for its event.</footer>\n"
        h += "</body></html>\n"
        return h
    }

    // MARK: tables

    static func summary(_ traces: [AnalyzedTrace], _ names: [String]) -> String {
        var h = "<h2>Summary</h2>\n<table id=\"summary\"><thead><tr><th>trace</th><th>generation</th><th>kernel</th><th>events</th><th>devices</th><th>verdict</th>"
        for rule in Rule.allCases { h += "<th class=\"rule-col\" title=\"\(esc(rule.holdsWhen))\">\(esc(rule.rawValue))</th>" }
        h += "</tr></thead><tbody>\n"
        for (i, t) in traces.enumerated() {
            let r = t.report
            h += "<tr class=\"trace-row\" data-trace=\"\(esc(names[i]))\" data-verdict=\"\(r.verdict.rawValue)\">"
            h += "<td><a href=\"#trace-\(i)\">\(esc(names[i]))</a></td><td>\(esc(r.header.generation?.rawValue ?? "unknown"))</td>"
            h += "<td>\(esc(r.header.kernel ?? ""))</td><td class=\"num\">\(r.events)</td><td class=\"num\">\(r.devices.count)</td>"
            h += "<td class=\"verdict verdict-\(r.verdict.rawValue)\">\(r.verdict.rawValue.uppercased())</td>"
            for rule in Rule.allCases {
                let n = r.countsByRule[rule] ?? 0
                h += n == 0 ? "<td class=\"num zero\" data-rule=\"\(rule.rawValue)\">0</td>"
                    : "<td class=\"num count-nonzero sev-\(rule.severity.rawValue)\" data-rule=\"\(rule.rawValue)\">\(n)</td>"
            }
            h += "</tr>\n"
        }
        return h + "</tbody></table>\n"
    }

    /// Cases by name, one column per trace (the same suite on two kernels reads across).
    static func casesTable(_ traces: [AnalyzedTrace], _ names: [String]) -> String {
        var order: [String] = []
        var seen: Set<String> = []
        for t in traces { for c in t.report.cases where seen.insert(c.name).inserted { order.append(c.name) } }
        guard !order.isEmpty else { return "" }
        var h = "<h2>Cases</h2>\n<table id=\"cases\"><thead><tr><th>case</th>"
        for n in names { h += "<th>\(esc(n))</th>" }
        h += "</tr></thead><tbody>\n"
        for name in order {
            h += "<tr class=\"case-row\" data-case=\"\(esc(name))\"><td>\(esc(name))</td>"
            for (i, t) in traces.enumerated() {
                guard let c = t.report.cases.first(where: { $0.name == name }) else {
                    h += "<td class=\"case-result absent\" data-trace=\"\(esc(names[i]))\">-</td>"
                    continue
                }
                let checker = c.violations > 0 ? "fail" : (c.result == CaseResult.unfinished ? "skip" : "ok")
                h += "<td class=\"case-result checker-\(checker)\" data-trace=\"\(esc(names[i]))\" data-result=\"\(esc(c.result))\" data-violations=\"\(c.violations)\">"
                h += "\(esc(c.result))"
                if c.findings > 0 {
                    let first = t.report.findings.first { $0.seq >= (c.firstSeq ?? .min) && $0.seq <= c.lastSeq }
                    let text = "\(c.violations) violations, \(c.findings - c.violations) other"
                    if let f = first, let k = t.report.findings.firstIndex(where: { $0.seq == f.seq && $0.rule == f.rule }) {
                        h += " &middot; <a href=\"#trace-\(i)-finding-\(k)\">\(text)</a>"
                    } else {
                        h += " &middot; \(text)"
                    }
                }
                h += "</td>"
            }
            h += "</tr>\n"
        }
        return h + "</tbody></table>\n"
    }

    static func legend() -> String {
        var h = "<div class=\"legend\"><strong>States:</strong> "
        for s in FilterState.allCases { h += "<span class=\"swatch\" style=\"background:\(color(s))\"></span>\(s.rawValue) " }
        h += "&nbsp; <span class=\"swatch\" style=\"background:#888;opacity:.35\"></span>down"
        h += " <span class=\"swatch\" style=\"background:#e8a33d;opacity:.35\"></span>reset"
        h += " <span class=\"swatch\" style=\"background:#333;height:3px\"></span>PF has it programmed (emulated PF)"
        h += " &nbsp; <span style=\"color:#1f5fbf\">&#8595;</span> VF sends &nbsp; <span style=\"color:#2a8a3e\">&#8593;</span> PF replies (red: error)"
        h += " &nbsp; <span style=\"color:#c0392b\">&#9670;</span> finding &nbsp; <span style=\"color:#8e44ad\">&#9650;</span> where its cause began</div>\n"
        return h
    }

    // MARK: per trace

    static func traceSection(_ t: AnalyzedTrace, name: String, index ti: Int, options: Options) -> String {
        let r = t.report
        var h = "<section class=\"trace\" id=\"trace-\(ti)\" data-trace=\"\(esc(name))\">\n"
        h += "<h2>\(esc(name)) <span class=\"verdict verdict-\(r.verdict.rawValue)\">\(r.verdict.rawValue.uppercased())</span></h2>\n"
        h += "<p class=\"header\">\(esc(ReportRenderer.headerLine(r.header))); \(r.events) events; devices \(esc(r.devices.joined(separator: ", ")))"
        h += "; \(r.count(.violation)) violations, \(r.count(.warning)) warnings, \(r.count(.note)) notes</p>\n"
        if let pf = t.pfLog { h += "<p class=\"pflog\">The PF's programmed VLANs (dark strips) from \(esc(base(pf))).</p>\n" }
        for reason in r.inconclusiveReasons { h += "<p class=\"inconclusive\">inconclusive: \(esc(reason))</p>\n" }
        if r.findings.isEmpty { h += "<p class=\"none\">No findings.</p>\n" }
        // Violations first, then by position, as `check` prints them.
        let ordered = r.findings.enumerated().sorted { ($0.element.severity, $0.element.seq, $0.offset) < ($1.element.severity, $1.element.seq, $1.offset) }
        for (n, (k, f)) in ordered.prefix(options.maxFindings).enumerated() {
            h += finding(f, k: k, t: t, ti: ti, drawTimeline: n < options.maxTimelines, options: options)
        }
        let hidden = r.totalFindings - min(r.findings.count, options.maxFindings)
        if hidden > 0 { h += "<p class=\"more\">\(hidden) more findings not listed (counts above include them; `iavf-check check` lists them).</p>\n" }
        return h + "</section>\n"
    }

    static func finding(_ f: Finding, k: Int, t: AnalyzedTrace, ti: Int, drawTimeline: Bool, options: Options) -> String {
        let vid = f.key.map { String($0.vid) } ?? ""
        var h = "<article class=\"finding severity-\(f.severity.rawValue)\" id=\"trace-\(ti)-finding-\(k)\" data-rule=\"\(f.rule.rawValue)\""
        h += " data-vid=\"\(vid)\" data-seq=\"\(f.seq)\" data-dev=\"\(esc(f.dev))\" data-severity=\"\(f.severity.rawValue)\">\n"
        h += "<h3><span class=\"sev\">\(f.severity.rawValue.uppercased())</span> \(esc(f.rule.rawValue)) &middot; dev \(esc(f.dev))"
        if let key = f.key { h += " &middot; VLAN \(esc(key.description))" }
        h += " &middot; at seq \(f.seq) (\(esc(f.event)))</h3>\n"
        h += "<p class=\"message\">\(esc(f.message))</p>\n"
        if let c = f.cause {
            h += "<p class=\"cause\">likely cause: <strong>\(esc(c.title))</strong>"
            if let o = f.originSeq { h += " <span class=\"origin\">(began at seq \(o)\(f.origin.map { ": " + esc($0.text) } ?? ""))</span>" }
            h += "</p>\n"
        }
        if !f.context.isEmpty {
            h += "<ol class=\"context\">"
            for c in f.context { h += "<li\(c.seq == f.seq ? " class=\"exposing\"" : "") data-seq=\"\(c.seq)\"><code>seq \(c.seq)</code> \(esc(c.text))</li>" }
            h += "</ol>\n"
        }
        if drawTimeline, let d = t.timeline.device(f.dev) {
            h += TimelineSVG.render(f, device: d, t0: t.timeline.firstNs, options: options)
        }
        return h + "</article>\n"
    }

    // MARK: helpers

    static func base(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

    /// File names, or the last two path parts when file names repeat (suite-1/trace-patched.jsonl,
    /// suite-2/trace-patched.jsonl), or the whole paths when those repeat too.
    public static func displayNames(_ paths: [String]) -> [String] {
        for parts in [1, 2] {
            let names = paths.map { $0.split(separator: "/").suffix(parts).joined(separator: "/") }
            if Set(names).count == names.count { return names }
        }
        return paths
    }

    /// Escapes text and attribute values (the same rules serve both).
    public static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default:
                // Control characters from a mark's text would be invalid in XML-parsed SVG.
                if u.value < 0x20 && u != "\n" && u != "\t" { o += "\u{FFFD}" } else { o.unicodeScalars.append(u) }
            }
        }
        return o
    }

    static func color(_ s: FilterState) -> String {
        switch s {
        case .INVALID: return "#cccccc"
        case .ADD: return "#9ecae1"
        case .IS_NEW, .ADDING: return "#4a90d9"
        case .ACTIVE: return "#52b36b"
        case .DISABLE: return "#c2b5e0"
        case .INACTIVE: return "#8c7cc4"
        case .REMOVE: return "#f7b267"
        case .REMOVING: return "#e0662c"
        }
    }

    static let css = """
    body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1200px}
    h1{font-size:22px;margin:0 0 12px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
    h3{font-size:14px;margin:0 0 6px}
    table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
    th{background:#f4f4f4} th.rule-col{font-size:11px;font-weight:600} td.num{text-align:right}
    td.zero{color:#bbb} td.count-nonzero.sev-violation{background:#fbe3e1;font-weight:600} td.count-nonzero.sev-warning{background:#fdf1d6}
    td.count-nonzero.sev-note{background:#e6f0fb}
    .verdict{font-weight:700;padding:1px 6px;border-radius:3px} .verdict-pass{background:#dff3e3;color:#1e6b32}
    .verdict-fail{background:#fbe3e1;color:#a52a1e} .verdict-inconclusive{background:#fdf1d6;color:#7a5a00}
    td.checker-fail{background:#fbe3e1} td.checker-ok{background:#f1faf3} td.checker-skip{background:#fdf1d6} td.absent{color:#bbb}
    .legend{font-size:12px;margin:12px 0;color:#444} .swatch{display:inline-block;width:12px;height:12px;margin:0 3px 0 8px;vertical-align:-2px;border-radius:2px}
    article.finding{border:1px solid #ddd;border-left:5px solid #999;border-radius:4px;padding:10px 12px;margin:12px 0;background:#fff}
    article.severity-violation{border-left-color:#c0392b} article.severity-warning{border-left-color:#e0a030} article.severity-note{border-left-color:#4a90d9}
    .sev{font-size:11px;letter-spacing:.05em;color:#666} .message{margin:4px 0} .cause{margin:4px 0;color:#444} .origin{color:#777}
    ol.context{list-style:none;padding:0;margin:6px 0;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;color:#444}
    ol.context li.exposing{color:#000;font-weight:600} ol.context li.exposing::before{content:"> "} code{color:#777}
    svg.timeline{display:block;margin-top:8px;background:#fcfcfc;border:1px solid #eee;font:11px system-ui,sans-serif}
    p.header{color:#555;font-size:13px} p.inconclusive{color:#7a5a00} footer{margin-top:32px;color:#888;font-size:12px}
    """
}

/// The timeline of one finding: one column per device event in a window around it.
enum TimelineSVG {
    static let width = 1100.0
    static let left = 120.0
    static let right = 16.0
    static let laneH = 22.0
    static let top = 18.0

    /// Arrow heads, defined once per document (ids must be unique) and used by every timeline.
    static var defs: String {
        var s = "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>"
        for (id, c) in [("arr-send", "#1f5fbf"), ("arr-other", "#9aa7b8"), ("arr-ok", "#2a8a3e"), ("arr-err", "#c0392b")] {
            s += "<marker id=\"\(id)\" viewBox=\"0 0 6 6\" refX=\"5\" refY=\"3\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0L6,3L0,6z\" fill=\"\(c)\"/></marker>"
        }
        return s + "</defs></svg>\n"
    }

    static func render(_ f: Finding, device d: TraceTimeline.Device, t0: Int64, options: HTMLReport.Options) -> String {
        guard !d.events.isEmpty else { return "" }
        let esc = HTMLReport.esc
        let fi = min(d.index(ofSeq: f.seq), d.events.count - 1)
        // From the first leading event (or the cause's origin, when near) to a few events after.
        var lo = f.context.first.map { d.index(ofSeq: $0.seq) } ?? fi
        if let o = f.originSeq { let oi = d.index(ofSeq: o); if fi - oi < options.maxWindow { lo = min(lo, oi) } }
        lo = max(0, lo - 2)
        let hi = min(d.events.count - 1, fi + options.eventsAfter)
        if hi - lo + 1 > options.maxWindow { lo = hi - options.maxWindow + 1 }
        let loSeq = d.events[lo].seq, hiSeq = d.events[hi].seq
        let columns = hi - lo + 1
        let step = (width - left - right) / Double(columns)
        func x(_ i: Int) -> Double { left + (Double(i - lo) + 0.5) * step }
        /// x of an interval edge: the column's middle, or the window's edge when outside it.
        func xs(_ seq: Int64) -> Double {
            if seq < loSeq { return left }
            if seq > hiSeq { return width - right }
            return x(d.index(ofSeq: seq))
        }

        // Lanes: VF, PF, then the VLANs the window's snapshots show (and the finding's).
        let loNs = d.events[lo].tNs, hiNs = d.events[hi].tNs
        let pf = d.pfProgrammed.filter { $0.startNs <= hiNs && $0.endNs >= loNs }
        // A VLAN only the PF still has (untracked-hw-filter) gets a lane too.
        var keys = Set(d.states.filter { $0.startSeq <= hiSeq && $0.endSeq >= loSeq }.map(\.key)).union(pf.map(\.key))
        if let k = f.key { keys.insert(k) }
        let vlans = keys.sorted()
        let vfY = top, pfY = top + laneH * 1.6
        var laneY: [VlanKey: Double] = [:]
        for (i, k) in vlans.enumerated() { laneY[k] = pfY + laneH * 1.4 + Double(i) * laneH }
        let lanesEnd = pfY + laneH * 1.4 + Double(vlans.count) * laneH
        let axisY = lanesEnd + 6
        let height = axisY + 34

        var s = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\""
        s += " data-from-seq=\"\(loSeq)\" data-to-seq=\"\(hiSeq)\" role=\"img\" aria-label=\"timeline of seq \(loSeq) to \(hiSeq)\">\n"

        // Down and reset bands behind everything.
        for sp in d.downs where sp.startSeq <= hiSeq && sp.endSeq >= loSeq {
            let a = xs(sp.startSeq), b = sp.openEnded ? width - right : xs(sp.endSeq)
            s += "<rect class=\"band-down\" x=\(f1(a)) y=\(f1(vfY - 6)) width=\(f1(max(2, b - a))) height=\(f1(lanesEnd - vfY + 6)) fill=\"#888\" fill-opacity=\"0.16\">"
            s += "<title>down from seq \(sp.startSeq)\(sp.openEnded ? " to the end of the trace" : " to open at seq \(sp.endSeq)")</title></rect>\n"
            s += "<text x=\(f1(a + 3)) y=\(f1(vfY + 3)) fill=\"#666\" font-size=\"10\">down</text>\n"
        }
        for sp in d.resets where sp.startSeq <= hiSeq && sp.endSeq >= loSeq {
            let a = xs(sp.startSeq), b = sp.openEnded ? width - right : xs(sp.endSeq)
            s += "<rect class=\"band-reset\" x=\(f1(a)) y=\(f1(vfY - 6)) width=\(f1(max(2, b - a))) height=\(f1(lanesEnd - vfY + 6)) fill=\"#e8a33d\" fill-opacity=\"0.22\">"
            s += "<title>reset from seq \(sp.startSeq) to \(sp.endSeq)</title></rect>\n"
            s += "<text x=\(f1(a + 3)) y=\(f1(pfY + 3)) fill=\"#a0650a\" font-size=\"10\">reset</text>\n"
        }

        // Lane labels and guides.
        func lane(_ y: Double, _ label: String, _ cls: String, _ extra: String = "") {
            s += "<g class=\"lane \(cls)\"\(extra)><line x1=\(f1(left)) x2=\(f1(width - right)) y1=\(f1(y + laneH / 2)) y2=\(f1(y + laneH / 2)) stroke=\"#e4e4e4\"/>"
            s += "<text x=\"6\" y=\(f1(y + laneH / 2 + 4))>\(esc(label))</text></g>\n"
        }
        lane(vfY, "VF sends", "lane-vf")
        lane(pfY, "PF replies", "lane-pf")
        for k in vlans { lane(laneY[k]!, "VLAN \(k)", "lane-vlan", " data-vid=\"\(k.vid)\"") }

        // State bands.
        for st in d.states where st.startSeq <= hiSeq && st.endSeq >= loSeq {
            guard let y = laneY[st.key] else { continue }
            let a = xs(st.startSeq), b = st.openEnded ? width - right : xs(st.endSeq)
            let w = max(2, b - a)
            s += "<rect class=\"state state-\(st.state.rawValue)\" data-state=\"\(st.state.rawValue)\" data-vid=\"\(st.key.vid)\" x=\(f1(a)) y=\(f1(y + 3)) width=\(f1(w)) height=\(f1(laneH - 6)) rx=\"2\" fill=\"\(HTMLReport.color(st.state))\">"
            s += "<title>VLAN \(st.key) \(st.state.rawValue) from seq \(st.startSeq)\(st.openEnded ? " to the end" : " to seq \(st.endSeq)")</title></rect>\n"
            if w > 52 { s += "<text x=\(f1(a + 4)) y=\(f1(y + laneH / 2 + 4)) font-size=\"10\" fill=\"#123\" pointer-events=\"none\">\(st.state.rawValue)</text>\n" }
        }

        // What the PF had programmed: a dark strip along the lane's foot. PF events have no
        // place in the VF's event order, so an edge falls on the first event at or after it.
        func xns(_ ns: Int64) -> Double {
            if ns <= loNs { return left }
            if ns > hiNs { return width - right }
            var a = lo, b = hi
            while a < b { let m = (a + b) / 2; if d.events[m].tNs < ns { a = m + 1 } else { b = m } }
            return x(a) - step / 2
        }
        for p in pf {
            guard let y = laneY[p.key] else { continue }
            let a = xns(p.startNs), b = p.openEnded ? width - right : xns(p.endNs)
            s += "<rect class=\"pf-programmed\" data-vid=\"\(p.key.vid)\" x=\(f1(a)) y=\(f1(y + laneH - 4)) width=\(f1(max(2, b - a))) height=\"3\" fill=\"#333\">"
            s += "<title>the PF had VLAN \(p.key) programmed</title></rect>\n"
        }

        // Messages: the VF's send as an arrow down to the PF lane, the reply as one back up.
        let label = step >= 26
        for m in d.messages where m.sendSeq >= loSeq && m.sendSeq <= hiSeq {
            let xx = x(d.index(ofSeq: m.sendSeq))
            let text = m.vids.isEmpty ? m.op : "\(m.op) [\(EventText.keys(m.vids))]"
            // VLAN messages stand out; the others (queues, MAC, stats) are context.
            let (c, arrow) = m.isVlan ? ("#1f5fbf", "arr-send") : ("#9aa7b8", "arr-other")
            s += "<g class=\"msg-send\(m.isVlan ? " msg-vlan" : "")\" data-op=\"\(esc(m.op))\" data-seq=\"\(m.sendSeq)\"><title>seq \(m.sendSeq) send \(esc(text))</title>"
            s += "<line x1=\(f1(xx)) x2=\(f1(xx)) y1=\(f1(vfY + 4)) y2=\(f1(pfY + laneH / 2)) stroke=\"\(c)\" stroke-width=\"1.6\" marker-end=\"url(#\(arrow))\"/>"
            if label { s += "<text x=\(f1(xx + 3)) y=\(f1(vfY + 9)) font-size=\"9\" fill=\"\(c)\">\(esc(short(m.op)))</text>" }
            s += "</g>\n"
        }
        for r in d.replies where r.seq >= loSeq && r.seq <= hiSeq {
            let xx = x(d.index(ofSeq: r.seq))
            let c = r.retval == 0 ? "#2a8a3e" : "#c0392b"
            s += "<g class=\"msg-reply\" data-op=\"\(esc(r.op))\" data-retval=\"\(r.retval)\" data-seq=\"\(r.seq)\"><title>seq \(r.seq) reply \(esc(r.op)) retval \(r.retval)</title>"
            s += "<line x1=\(f1(xx)) x2=\(f1(xx)) y1=\(f1(pfY + laneH - 2)) y2=\(f1(vfY + laneH / 2)) stroke=\"\(c)\" stroke-width=\"1.6\" marker-end=\"url(#\(r.retval == 0 ? "arr-ok" : "arr-err"))\"/>"
            if label { s += "<text x=\(f1(xx + 3)) y=\(f1(pfY + laneH - 2)) font-size=\"9\" fill=\"\(c)\">\(r.retval == 0 ? "ok" : "err \(r.retval)")</text>" }
            s += "</g>\n"
        }

        // Event columns: a tick per event with its text, seq labels where they fit.
        let every = max(1, Int((34 / step).rounded(.up)))
        for i in lo...hi {
            let e = d.events[i]
            let xx = x(i)
            s += "<g class=\"event\" data-seq=\"\(e.seq)\" data-ev=\"\(esc(e.kind))\"><title>seq \(e.seq) +\(ms(e.tNs - t0)) \(esc(EventText.describe(e)))</title>"
            s += "<line x1=\(f1(xx)) x2=\(f1(xx)) y1=\(f1(axisY)) y2=\(f1(axisY + 5)) stroke=\"#999\"/>"
            s += "<rect x=\(f1(xx - step / 2)) y=\(f1(axisY)) width=\(f1(step)) height=\"30\" fill=\"transparent\"/>"
            if (i - lo) % every == 0 || i == fi { s += "<text x=\(f1(xx)) y=\(f1(axisY + 16)) text-anchor=\"middle\" fill=\"#777\" font-size=\"9\">\(e.seq)</text>" }
            s += "</g>\n"
        }
        s += "<text x=\"6\" y=\(f1(axisY + 16)) fill=\"#777\" font-size=\"9\">seq</text>\n"
        s += "<text x=\"6\" y=\(f1(axisY + 28)) fill=\"#999\" font-size=\"9\">+\(ms(d.events[lo].tNs - t0)) .. +\(ms(d.events[hi].tNs - t0))</text>\n"

        // The cause's origin and the finding on top.
        if let o = f.originSeq, o >= loSeq, o <= hiSeq {
            let xx = x(d.index(ofSeq: o))
            s += "<g class=\"origin-marker\" data-seq=\"\(o)\"><title>cause began: seq \(o)\(f.origin.map { " " + esc($0.text) } ?? "")</title>"
            s += "<line x1=\(f1(xx)) x2=\(f1(xx)) y1=\(f1(vfY - 6)) y2=\(f1(lanesEnd)) stroke=\"#8e44ad\" stroke-dasharray=\"2 3\"/>"
            s += "<path d=\"M\(n(xx - 5)),\(n(lanesEnd + 5))L\(n(xx + 5)),\(n(lanesEnd + 5))L\(n(xx)),\(n(lanesEnd - 3))z\" fill=\"#8e44ad\"/></g>\n"
        }
        let fx = x(fi)
        let fy = f.key.flatMap { laneY[$0] }.map { $0 + laneH / 2 } ?? (vfY + laneH / 2)
        s += "<g class=\"finding-marker\" data-rule=\"\(f.rule.rawValue)\" data-vid=\"\(f.key.map { String($0.vid) } ?? "")\" data-seq=\"\(f.seq)\">"
        s += "<title>\(esc(f.rule.rawValue)) at seq \(f.seq): \(esc(f.message))</title>"
        s += "<line x1=\(f1(fx)) x2=\(f1(fx)) y1=\(f1(vfY - 6)) y2=\(f1(lanesEnd)) stroke=\"#c0392b\" stroke-width=\"1.4\" stroke-dasharray=\"4 3\"/>"
        s += "<path d=\"M\(n(fx)),\(n(fy - 8))L\(n(fx + 8)),\(n(fy))L\(n(fx)),\(n(fy + 8))L\(n(fx - 8)),\(n(fy))z\" fill=\"#c0392b\" stroke=\"#fff\" stroke-width=\"1.5\"/></g>\n"
        return s + "</svg>\n"
    }

    static func short(_ op: String) -> String {
        switch op {
        case "ADD_VLAN_V2", "ADD_VLAN": return "ADD"
        case "DEL_VLAN_V2", "DEL_VLAN": return "DEL"
        default: return String(op.prefix(8))
        }
    }

    /// An attribute value, quoted, to 0.1 px.
    static func f1(_ v: Double) -> String { "\"\(n(v))\"" }

    /// A number for path data, to 0.1 px.
    static func n(_ v: Double) -> String {
        let t = (v * 10).rounded() / 10
        return t == t.rounded() ? String(Int(t)) : String(t)
    }

    static func ms(_ ns: Int64) -> String {
        let us = ns / 1000
        return "\(us / 1000).\(String(repeating: "0", count: 3 - String(us % 1000).count))\(us % 1000) ms"
    }
}
