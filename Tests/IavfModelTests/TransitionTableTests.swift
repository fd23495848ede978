@testable import IavfModel
import Testing

@Suite("Transition tables as data")
struct TransitionTableTests {
    @Test("every state of a generation has a row for the events that touch every filter",
          arguments: Generation.allCases)
    func tablesAreCompleteForAdapterWideEvents(g: Generation) {
        for s in TransitionTable.states(g) {
            for stim in [Stimulus.userAdd, .down, .open, .configReply, .disableVF] {
                #expect(TransitionTable.row(g, from: .state(s), on: stim) != nil, "\(g): no row for \(s) on \(stim.name)")
            }
        }
        #expect(TransitionTable.row(g, from: .absent, on: .userAdd) != nil)
    }

    @Test("no row names a state the generation does not have", arguments: Generation.allCases)
    func rowsUseOnlyTheGenerationsStates(g: Generation) {
        let own = Set(TransitionTable.states(g))
        for r in TransitionTable.rows(g) {
            for f in r.from { if case .state(let s) = f { #expect(own.contains(s), "\(r.spec) starts from \(s)") } }
            if case .state(let s) = r.to { #expect(own.contains(s), "\(r.spec) goes to \(s)") }
        }
    }

    @Test("the watchdog selects ADD for adds; DISABLE and REMOVE (U) or REMOVE (P) for deletes")
    func selectionSets() {
        #expect(TransitionTable.selectable(.unpatched, for: .wdAddChosen) == [.ADD])
        #expect(TransitionTable.selectable(.patched, for: .wdAddChosen) == [.ADD])
        #expect(TransitionTable.selectable(.unpatched, for: .wdDelChosen) == [.DISABLE, .REMOVE])
        #expect(TransitionTable.selectable(.patched, for: .wdDelChosen) == [.REMOVE])
    }

    @Test("DOT output holds one edge per state change of the table")
    func dotHasEdges() {
        let dot = ModelRendering.dot(.patched)
        #expect(dot.hasPrefix("digraph iavf_vlan_patched {"))
        #expect(dot.contains("REMOVING -> ACTIVE"))
        #expect(dot.contains("REMOVING -> freed"))
        #expect(!dot.contains("DISABLE"))
        #expect(ModelRendering.dot(.unpatched).contains("INACTIVE -> ADD [label=\"Open\"]"))
    }
}
