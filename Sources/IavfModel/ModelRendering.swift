/// `iavf-check model`: the tables as a reviewer reads them, or as a graphviz automaton.
public enum ModelRendering {
    public static func table(_ g: Generation) -> String {
        let title = g == .unpatched
            ? "Unpatched (6.1.170): spec section 2.2 with errata"
            : "Patched (6.1.176 and later): spec section 2.3 with errata"
        var rows: [[String]] = [["From", "Event", "To", "Side effects", "Spec"]]
        for r in TransitionTable.rows(g) {
            rows.append([r.from.map(\.description).joined(separator: ", "), r.on.name, r.to.description,
                         r.effects.map(\.rawValue).joined(separator: "; "), r.spec])
        }
        var s = title + "\n\n" + grid(rows)
        s += "\nAdapter-wide effects (sections 1.5, 2.5, 7):\n\n"
        var dev: [[String]] = [["Event", g == .unpatched ? "Unpatched" : "Patched"]]
        for r in DeviceRules.all { dev.append([r.event, g == .unpatched ? r.unpatched : r.patched]) }
        s += grid(dev)
        return s
    }

    private static func grid(_ rows: [[String]]) -> String {
        var widths = Array(repeating: 0, count: rows[0].count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        var s = ""
        for (n, r) in rows.enumerated() {
            let cells = r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
            s += "| " + cells.joined(separator: " | ") + "\n"
            if n == 0 { s += "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "\n" }
        }
        return s
    }

    /// The per-filter automaton in DOT; "(none)" is the absent filter and "freed" the sink.
    public static func dot(_ g: Generation) -> String {
        var s = "digraph iavf_vlan_\(g.rawValue) {\n  rankdir=LR;\n  label=\"iavf VLAN filter states, \(g.rawValue)\";\n"
        s += "  node [shape=ellipse];\n  none [label=\"(none)\", shape=point];\n  freed [shape=doublecircle];\n"
        for st in TransitionTable.states(g) { s += "  \(st.rawValue);\n" }
        for r in TransitionTable.rows(g) {
            let to: String
            switch r.to {
            case .freed: to = "freed"
            case .state(let st): to = st.rawValue
            case .unchanged: continue
            }
            for f in r.from {
                let from: String
                switch f {
                case .absent: from = "none"
                case .state(let st): from = st.rawValue
                }
                let label = r.on.name.replacingOccurrences(of: "\"", with: "\\\"")
                s += "  \(from) -> \(to) [label=\"\(label)\"];\n"
            }
        }
        return s + "}\n"
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
