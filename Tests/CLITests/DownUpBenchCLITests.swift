import Foundation
import Testing

/// `bench downup` without a VM: `--reanalyse` reads traces an earlier run left in --output.
@Suite("bench downup as a user runs it")
struct DownUpBenchCLITests {
    /// One down/up cycle of VF1 with `vlans` VLANs: the unpatched driver sends 1 DEL and one ADD
    /// per VLAN (the V2 clamp), the patched none.
    static func trace(unpatched: Bool, vlans: Int) -> String {
        var lines = [#"{"format":"iavf-trace","version":1,"generation":"\#(unpatched ? "unpatched" : "patched")","kernel":"6.1.0","vlan_mode":"v2","max_filters":8,"source":"live"}"#]
        var seq = 0, t = 0
        func e(_ body: String, dev: String = "10000:00:00.0") {
            seq += 1; t += 1_000_000
            lines.append(#"{"seq":\#(seq),"t_ns":\#(t),"dev":"\#(dev)",\#(body)}"#)
        }
        func msg(_ op: String, _ vids: [Int] = []) {
            e(#""ev":"send","op":"\#(op)","vids":[\#(vids.map { "[\($0),33024]" }.joined(separator: ","))],"ret":0"#)
            e(#""ev":"reply","op":"\#(op)","retval":0"#)
        }
        let vids = (0..<vlans).map { 100 + $0 }
        for i in 0..<2 {
            e(#""ev":"close","phase":"enter""#)
            msg("DISABLE_QUEUES")
            if unpatched && vlans > 0 { msg("DEL_VLAN_V2", vids) }
            e(#""ev":"close","phase":"exit","ret":0"#)
            e(#""ev":"open","phase":"enter""#)
            e(#""ev":"open","phase":"exit","ret":0"#)
            msg("CONFIG_VSI_QUEUES")
            msg("ENABLE_QUEUES")
            if unpatched { for v in vids { msg("ADD_VLAN_V2", [v]) } }
            e(#""ev":"mark","text":"downup vlans=\#(vlans) iter=\#(i)","result":"PASS""#)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("--kernel both means unpatched and patched (it used to be rejected with a message naming 'both' as valid)")
    func kernelBoth() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("downup-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.trace(unpatched: true, vlans: 7).write(toFile: dir + "/downup-unpatched.jsonl", atomically: true, encoding: .utf8)
        try Self.trace(unpatched: false, vlans: 7).write(toFile: dir + "/downup-patched.jsonl", atomically: true, encoding: .utf8)
        let (code, out, err) = try iavfCheck(["bench", "downup", "--kernel", "both", "--reanalyse", "-o", dir, "--format", "json"])
        #expect(code == 0, "\(err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)\n\(err)")
        let kernels = try #require(obj["kernels"] as? [[String: Any]])
        #expect(kernels.map { $0["kernel"] as? String } == ["unpatched", "patched"])
        func perCycle(_ k: Int) -> Double? {
            ((kernels[k]["counts"] as? [[String: Any]])?.first)?["vlan_messages_per_cycle"] as? Double
        }
        #expect(perCycle(0) == 8, "1 DEL + 7 ADD")
        #expect(perCycle(1) == 0)
    }

    @Test("an unknown --kernel is a usage error (exit 2) that lists what is valid")
    func kernelUnknown() throws {
        let (code, _, err) = try iavfCheck(["bench", "downup", "--kernel", "unpatched,newest", "--reanalyse"])
        #expect(code == 2)
        #expect(err.contains("unknown kernel 'newest'") && err.contains("use unpatched, patched"), "\(err)")
    }
}
