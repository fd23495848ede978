/// `iavf-check model`: the tables as a reviewer reads them, or as a graphviz automaton.
public enum ModelRendering {
    /// The table as text: what `--model FILE` reads back.
    public static func table(_ g: Generation) -> String { ModelText.render(.builtIn(g)) }

    /// The per-filter automaton in DOT; "(none)" is the absent filter and "freed" the sink.
    public static func dot(_ g: Generation) -> String { dot(.builtIn(g)) }

    public static func dot(_ t: ModelTable) -> String {
        let g = t.generation
        var s = "digraph iavf_vlan_\(g.rawValue) {\n  rankdir=LR;\n  label=\"iavf VLAN filter states, \(g.rawValue)\";\n"
        s += "  node [shape=ellipse];\n  none [label=\"(none)\", shape=point];\n  freed [shape=doublecircle];\n"
        for st in TransitionTable.states(g) { s += "  \(st.rawValue);\n" }
        for r in t.rows {
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
