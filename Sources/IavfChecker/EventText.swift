import IavfModel
import IavfTrace

/// One-line, human renderings of events and lists for reports.
public enum EventText {
    public static func describe(_ e: TraceEvent) -> String {
        switch e.body {
        case .addVid(let k, let p, let r): return "add_vid \(p.rawValue) VLAN \(k)" + ret(r)
        case .killVid(let k, let p, let r): return "kill_vid \(p.rawValue) VLAN \(k)" + ret(r)
        case .send(let op, let vids, let r):
            return "send \(op.name)" + (vids.isEmpty && !op.isVlanFilterOp ? "" : " [\(keys(vids))]") + ret(r)
        case .reply(let op, let rv): return "reply \(op.name) retval \(rv)"
        case .down(let p): return "down \(p.rawValue)"
        case .upComplete(let p): return "up_complete \(p.rawValue)"
        case .open(let p, let r): return "open \(p.rawValue)" + ret(r)
        case .close(let p, let r): return "close \(p.rawValue)" + ret(r)
        case .reset(let p): return "reset \(p.rawValue)"
        case .snapshot(let fs, let count, let at):
            return "snapshot \(list(fs)) count \(count)"
                + (at.map { " (after \($0))" } ?? "")
        case .settled(let reason): return "settled" + (reason.map { " (\($0))" } ?? "")
        case .lost(let n): return "lost \(n) events"
        case .mark(let t, let r): return "mark \"\(t)\"" + (r.map { " \($0.rawValue)" } ?? "")
        case .pf(let vids, _): return "pf programmed [\(keys(vids))]"
        case .caps(let m): return "caps max_filters \(m.map(String.init) ?? "none")"
        case .unknown(let k): return "\(k) (unknown event kind)"
        }
    }

    /// Most entries a list shows: a finding's text stays readable (and small) whatever the list.
    public static let shown = 32

    public static func keys(_ ks: [VlanKey]) -> String {
        ks.prefix(shown).map(\.description).joined(separator: " ") + more(ks.count)
    }

    public static func list(_ fs: [Filter]) -> String {
        "{" + fs.prefix(shown).map { "\($0.key):\($0.state.rawValue)" }.joined(separator: " ") + more(fs.count) + "}"
    }

    private static func more(_ n: Int) -> String { n > shown ? " ... (\(n - shown) more)" : "" }

    private static func ret(_ r: Int32?) -> String {
        guard let r else { return "" }
        return r == 0 ? " ret 0" : " ret \(r)\(errnoName(r).map { " (\($0))" } ?? "")"
    }

    public static func errnoName(_ r: Int32) -> String? { Errno.name(r) }
}
