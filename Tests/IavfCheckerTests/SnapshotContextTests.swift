@testable import IavfChecker
import Testing

@Suite struct SnapshotContextTests {
    @Test("every probe point the recorder writes as `at` has its context; anything else is unknown")
    func classifies() {
        let expected: [String: SnapshotContext] = [
            "add_vid": .ndo, "kill_vid": .ndo, "close": .ndo,
            "iavf_add_vlans": .workqueue, "iavf_del_vlans": .workqueue, "add_vlans": .workqueue, "del_vlans": .workqueue,
            "send": .workqueue, "reply": .workqueue, "reset": .workqueue, "up_complete": .workqueue,
            "open": .exclusive, "down": .exclusive,
        ]
        for (at, ctx) in expected { #expect(SnapshotContext(at: at) == ctx, "\(at)") }
        for at in [nil, "", "Send", "replies", "add_vids", "iavf_add_vlanz", "settled", "open ", "dow"] {
            #expect(SnapshotContext(at: at) == .unknown, "\(at ?? "nil")")
        }
    }
}
