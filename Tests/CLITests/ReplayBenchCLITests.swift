import Foundation
import Testing

@Suite struct ReplayBenchCLITests {
    @Test("bench replay --passes 2 --format json: every pass listed, the headline is their median, the verdict is pass")
    func passes() throws {
        let (code, out, err) = try iavfCheck(["bench", "replay", "--events", "20000", "--passes", "2", "--format", "json"])
        #expect(code == 0, "\(err)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let two = try #require(doc["passes_2_threads"] as? [Int])
        let one = try #require(doc["passes_1_thread"] as? [Int])
        #expect(two.count == 2 && one.count == 2)
        let median = try #require(doc["events_per_s_2_threads"] as? Int)
        // The median of two is their mean (of the times, so between the two rates).
        #expect(median >= two.min()! - 1 && median <= two.max()! + 1)
        #expect(doc["verdict"] as? String == "pass")
        #expect(doc["passes"] as? Int == 2)
    }

    @Test("bench replay --passes 0 is refused with the range")
    func badPasses() throws {
        let (code, _, err) = try iavfCheck(["bench", "replay", "--passes", "0"])
        #expect(code == 2, "\(code)")
        #expect(err.contains("--passes must be 1 to 20"))
    }
}
