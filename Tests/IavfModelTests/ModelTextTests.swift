@testable import IavfModel
import Testing

@Suite("The model as text: what `model` prints, `--model` reads")
struct ModelTextTests {
    func rowsText(_ rows: [Transition]) -> [String] {
        rows.map { "\($0.from) \($0.on.name) \($0.to) \($0.effects.map(\.rawValue)) \($0.spec)" }
    }

    @Test("each built-in table printed and read back is the same table", arguments: Generation.allCases)
    func roundTrip(_ g: Generation) throws {
        let printed = ModelText.render(.builtIn(g))
        let back = try ModelText.parse(printed, file: "printed")
        #expect(back.generation == g)
        #expect(back.title == ModelTable.builtIn(g).title)
        #expect(rowsText(back.rows) == rowsText(TransitionTable.rows(g)))
        #expect(ModelText.render(back) == printed)
    }

    static let s3Fix = """
    # the fix for S3 this repository proposes
    generation: patched
    delta: drop filters being removed when a reset's caps reply re-queues the list

    | From | Event | To | Side effects | Spec
    |------|-------|----|--------------|-----
    | REMOVE, REMOVING | CfgResp | freed | | S3 fix: the reset already cleared them at the PF
    """

    @Test("a delta replaces exactly the rows it names; the model follows it")
    func delta() throws {
        let t = try ModelText.parse(Self.s3Fix, file: "s3.model")
        let base = TransitionTable.rows(.patched)
        #expect(t.rows.count == base.count + 1, "the CfgResp row is split: ADD, ADDING, ACTIVE stay; REMOVE, REMOVING get the new row")
        let cfg = t.rows.filter { $0.on == .configReply }
        #expect(cfg.map(\.from) == [[.state(.REMOVE), .state(.REMOVING)], [.state(.ADD), .state(.ADDING), .state(.ACTIVE)]])
        #expect(cfg[0].to == .freed && cfg[0].spec.hasPrefix("S3 fix"))
        // Built-in: a filter killed during the reset comes back at the caps reply (S3); fixed: it goes.
        for (table, expected) in [(ModelTable.builtIn(.patched), ["100:ADD"]), (t, [])] {
            var m = ReferenceModel(table: table)
            m.userAdd(VlanKey(vid: 100), ret: 0, seq: 1)
            m.send(.addVlanV2, vids: [VlanKey(vid: 100)], seq: 2)
            m.reply(.addVlanV2, retval: 0, seq: 3)
            m.reset(seq: 4)
            m.userKill(VlanKey(vid: 100), seq: 5)
            m.reply(.getOffloadVlanV2Caps, retval: 0, seq: 6)
            #expect(m.filters.map { "\($0.key.vid):\($0.state.rawValue)" } == expected, "\(table.source)")
        }
    }

    @Test("(no row) in a delta removes a row")
    func deltaRemovesRow() throws {
        let t = try ModelText.parse("""
        generation: unpatched
        delta: no V1 success handler row at all
        | From | Event | To | Side effects | Spec
        | IS_NEW | Cpl(ADD_VLAN, 0) | (no row) | | test
        """, file: "d")
        #expect(!t.rows.contains { $0.on == .addV1Success })
    }

    @Test("bad model input names the line and what is wrong", arguments: [
        ("generation: patched\ndelta: x\n| From | Event | To | Side effects | Spec\n| INACTIVE | Open | ADD | | x", 4, "not a state of the patched driver"),
        ("generation: patched\ndelta: x\n| From | Event | To | Side effects | Spec\n| ADD | Open | DISABLE | | x", 4, "'DISABLE' is not a state"),
        ("generation: patched\ntitle: t\n| From | Event | To | Side effects | Spec\n| ADD | Opne | ADD | | x", 4, "unknown event 'Opne'"),
        ("generation: patched\ntitle: t\n| From | Event | To | Side effects | Spec\n| ADD | Open | ADD | BIT | x", 4, "unknown side effect"),
        ("generation: patched\ntitle: t\n| From | Event | To | Side effects | Spec\n| ADD | Open | ADD | |", 4, "Spec is empty"),
        ("generation: patched\ntitle: t\n| From | Event | To | Side effects | Spec\n| ADD | Open | ADD | | a\n| ADD | Open | ACTIVE | | b", 5, "a second row for ADD on Open (the first is on line 4)"),
        ("generation: patched\ndelta: x\n| From | Event | To | Side effects | Spec\n| (none) | UserKill | freed | | x", 4, "has no row for (none) on UserKill"),
        ("generation: patched\ntitle: t\n| From | Event | To | Side effects | Spec\n| ADD | Open | ADD | x", 4, "a row has 5 cells"),
        ("generation: sideways\n", 1, "is not unpatched or patched"),
        ("| From | Event | To | Side effects | Spec\n", 1, "before `generation"),
        ("generation: patched\n| From | Event | To | Side effects | Spec\n", 2, "say `title: ...`"),
        ("hello\n", 1, "expected `key: value`"),
        ("generation: patched\ntitle: t\n", 3, "no rows"),
    ] as [(String, Int, String)])
    func badInput(_ text: String, _ line: Int, _ says: String) {
        #expect {
            _ = try ModelText.parse(text, file: "m.model")
        } throws: { e in
            guard let e = e as? ModelTextError else { return false }
            return e.file == "m.model" && e.line == line && e.message.contains(says)
        }
    }
}

@Suite struct TrimmingTests {
    @Test("trimming takes the set's characters off both ends only, and an all-blank line to nothing")
    func trims() {
        #expect("  a b \t".trimmingCharacters(in: " \t") == "a b")
        #expect(" \t ".trimmingCharacters(in: " \t") == "")
        #expect("".trimmingCharacters(in: " ") == "")
        #expect("x".trimmingCharacters(in: " ") == "x")
        let line = "| ADD | UserKill |"
        #expect(line.split(separator: "|").map { $0.trimmingCharacters(in: " ") } == ["ADD", "UserKill"])
        #expect(line.dropFirst().dropLast().trimmingCharacters(in: " ") == "ADD | UserKill")
    }
}
