import Foundation
import IavfScenarios
import Testing

@Suite("suite: what the PF programmed, from its trace")
struct PFTraceTests {
    static let header = #"{"format":"iavf-trace","version":1,"vlan_mode":"v2","max_filters":8,"source":"emulated"}"#
    static func pf(_ dev: String, _ vids: [Int]) -> String {
        #"{"seq":1,"t_ns":1,"dev":"\#(dev)","ev":"pf","vids":[\#(vids.map { "[\($0),33024]" }.joined(separator: ","))]}"#
    }

    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pf-\(UUID().uuidString).jsonl").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let known: () -> Set<String> = { ["10000:00:00.0", "10000:00:01.0", "vf0", "vf1"] }

    @Test("follows the PF's set per VF as the trace grows; a VF the PF never programmed has none")
    func follows() throws {
        let path = try file(Self.header + "\n" + Self.pf("10000:00:00.0", [100, 101]) + "\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = PFTraceFollower(path: path, knownDevices: known)
        #expect(try f.programmed(["10000:00:00.0", "vf0"]) == [100, 101])
        #expect(try f.programmed(["10000:00:01.0", "vf1"]) == [])
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data((Self.pf("10000:00:00.0", []) + "\n").utf8))
        try h.close()
        #expect(try f.programmed(["10000:00:00.0", "vf0"]) == [])
    }

    @Test("defect 11: a missing, empty, foreign or garbled trace is an error, never an empty set")
    func unreadable() throws {
        let missing = PFTraceFollower(path: "/nonexistent/pf.jsonl", knownDevices: known)
        #expect(throws: PFTraceError.self) { try missing.programmed(["10000:00:00.0"]) }
        let empty = try file("")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: PFTraceError.self) { try PFTraceFollower(path: empty, knownDevices: known).programmed(["10000:00:00.0"]) }
        // Another device's trace (another PF, another run): VF1's set is not "nothing".
        let other = try file(Self.header + "\n" + Self.pf("0000:3b:02.0", [100]) + "\n")
        defer { try? FileManager.default.removeItem(atPath: other) }
        do {
            _ = try PFTraceFollower(path: other, knownDevices: known).programmed(["10000:00:00.0"])
            Issue.record("a trace naming another device read as a set")
        } catch let e as PFTraceError {
            #expect(e.description.contains("names device 0000:3b:02.0"))
        }
        let notTrace = try file("hello\n")
        defer { try? FileManager.default.removeItem(atPath: notTrace) }
        #expect(throws: PFTraceError.self) { try PFTraceFollower(path: notTrace, knownDevices: known).programmed(["10000:00:00.0"]) }
        let noHeader = try file(Self.pf("10000:00:00.0", [100]) + "\n")
        defer { try? FileManager.default.removeItem(atPath: noHeader) }
        #expect(throws: PFTraceError.self) { try PFTraceFollower(path: noHeader, knownDevices: known).programmed(["10000:00:00.0"]) }
    }
}
