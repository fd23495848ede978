import Foundation
import IavfFuzzing
import Testing

private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func files(_ dir: String) -> [String] {
    let d = repo.appendingPathComponent(dir).path
    return ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { d + "/" + $0 }
}

/// The trace fuzzer's path (IavfFuzzing.checkTrace: reader, checker, every report format),
/// run in the normal test build on its seeds and on every input it ever crashed on.
@Suite("Trace fuzzer inputs through the fuzzer's own path")
struct TraceFuzzReplayTests {
    @Test("every sample, as bytes, is read and checked to a report")
    func seedsGiveReports() throws {
        let samples = files("samples").filter { $0.hasSuffix(".jsonl") }
        #expect(samples.count >= 20)
        for path in samples {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let report = bytes.withUnsafeBufferPointer { checkTrace(bytes: $0, scratchPath: tempPath("fuzz-seed.jsonl")) }
            #expect(report != nil, "\(path) rejected")
        }
    }

    @Test("cut, flipped and garbage inputs come back as a clean rejection or a report, never a trap")
    func mangledSamplesAreHandled() throws {
        let bytes = try [UInt8](Data(contentsOf: repo.appendingPathComponent("samples/unpatched-7-of-8.jsonl")))
        var rejected = 0
        var inputs: [[UInt8]] = [[], [0x1f, 0x8b, 0x08], Array("{\"format\":\"iavf-trace\"".utf8)]
        for cut in stride(from: 1, to: bytes.count, by: 97) { inputs.append(Array(bytes[..<cut])) }
        for i in stride(from: 0, to: bytes.count, by: 53) { var b = bytes; b[i] ^= 0x5a; inputs.append(b) }
        for input in inputs where input.withUnsafeBufferPointer({ checkTrace(bytes: $0, scratchPath: tempPath("fuzz-mangled.jsonl")) }) == nil {
            rejected += 1
        }
        // The header alone is cut or flipped in some of them: those must be rejected.
        #expect(rejected >= 3 && rejected < inputs.count, "\(rejected) of \(inputs.count) rejected")
    }

    /// A crash the fuzzer finds is kept in Fuzz/regressions/FuzzTrace/ and replayed here.
    @Test("every kept crash input of the trace fuzzer now runs to a report or a clean rejection",
          .enabled(if: !files("Fuzz/regressions/FuzzTrace").isEmpty, "no crash input kept yet"))
    func regressions() {
        for path in files("Fuzz/regressions/FuzzTrace") { _ = checkTrace(path: path) }
    }
}
