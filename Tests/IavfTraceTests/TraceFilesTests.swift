import Foundation
import IavfSystem
import IavfTrace
import Testing

@Suite struct TraceFilesTests {
    @Test("a directory's traces without the PF logs beside them; a stress output is searched one level down; none is bad input")
    func expand() throws {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("tf-\(UUID().uuidString)").path
        let fm = FileManager.default
        defer { try? fm.removeItem(atPath: d) }
        try fm.createDirectory(atPath: d + "/suite", withIntermediateDirectories: true)
        for f in ["trace-patched.jsonl", "pf-patched.jsonl", "pf-refused-delete-fail.jsonl", "notes.txt"] {
            _ = fm.createFile(atPath: "\(d)/suite/\(f)", contents: Data())
        }
        #expect(try TraceFiles.expand(d + "/suite").map { URL(fileURLWithPath: $0).lastPathComponent }
                == ["pf-refused-delete-fail.jsonl", "trace-patched.jsonl"])
        try fm.createDirectory(atPath: d + "/stress/patched", withIntermediateDirectories: true)
        _ = fm.createFile(atPath: d + "/stress/patched/stress-attempt-1.jsonl", contents: Data())
        _ = fm.createFile(atPath: d + "/stress/stress-summary.json", contents: Data())
        #expect(try TraceFiles.expand(d + "/stress") == [d + "/stress/patched/stress-attempt-1.jsonl"])
        try fm.createDirectory(atPath: d + "/empty", withIntermediateDirectories: true)
        #expect(throws: BadInput.self) { try TraceFiles.expand(d + "/empty") }
        #expect(try TraceFiles.expand(d + "/x.jsonl") == [d + "/x.jsonl"])
    }
}
