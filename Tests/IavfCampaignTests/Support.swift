import Foundation

/// A fresh directory under the temporary directory for one test.
func scratchDirectory(_ prefix: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
