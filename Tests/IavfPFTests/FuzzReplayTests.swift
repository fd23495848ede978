import Foundation
import IavfFuzzing
import IavfPF
import Testing

private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func files(_ dir: String) -> [String] {
    let d = repo.appendingPathComponent(dir).path
    return ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { d + "/" + $0 }
}

private func run(_ bytes: [UInt8]) -> [Int32] { bytes.withUnsafeBufferPointer { runVirtchnl($0) } }

/// The virtchnl fuzzer's path (IavfFuzzing.runVirtchnl: VFState.handle as the emulator
/// calls it), run in the normal test build on its seeds and every input it crashed on.
@Suite("virtchnl fuzzer inputs through the fuzzer's own path")
struct VirtchnlFuzzReplayTests {
    @Test("the committed seeds are the ones the codecs write, and they reach the VLAN handlers")
    func seedsAreCurrentAndReachVLANs() throws {
        for s in virtchnlSeeds() {
            let committed = try [UInt8](Data(contentsOf: repo.appendingPathComponent("Fuzz/corpus/FuzzVirtchnl/\(s.name)")))
            #expect(committed == s.bytes, "Fuzz/corpus/FuzzVirtchnl/\(s.name) is stale: FuzzVirtchnl --write-seeds")
        }
        let seeds = Dictionary(uniqueKeysWithValues: virtchnlSeeds().map { ($0.name, $0.bytes) })
        // VERSION, GET_VF_RESOURCES, caps, ADD [100, 101], DEL [100]: all succeed.
        #expect(run(seeds["v2-add-del"]!) == [0, 0, 0, 0, 0])
        // Nine VIDs against max_filters 8: the ADD is refused with VIRTCHNL_STATUS_ERR_PARAM.
        #expect(run(seeds["v2-over-limit"]!).last == VirtchnlStatus.errParam)
        #expect(run(seeds["v1-add-del"]!) == [0, 0, 0, 0])
    }

    @Test("decoding: known opcode selectors, a raw 32-bit opcode, and a cut last record")
    func inputLayout() {
        let (policy, reqs) = [UInt8]([3, 0, 2, 0, 9, 9, 0xFF, 0x39, 0, 0, 0, 0, 0, 200, 5, 0, 1]).withUnsafeBufferPointer { decodeVirtchnlInput($0) }
        #expect(policy.vlanMode == .v1 && policy.trusted && !policy.strictV1Limit)
        #expect(reqs.map(\.op) == [VC.version, 57, 200])
        #expect(reqs.map(\.message) == [[9, 9], [], [1]])
    }

    /// A crash the fuzzer finds is kept in Fuzz/regressions/FuzzVirtchnl/ and replayed here.
    @Test("every kept crash input of the virtchnl fuzzer now runs without a trap",
          .enabled(if: !files("Fuzz/regressions/FuzzVirtchnl").isEmpty, "no crash input kept yet"))
    func regressions() throws {
        for path in files("Fuzz/regressions/FuzzVirtchnl") {
            _ = run(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}
