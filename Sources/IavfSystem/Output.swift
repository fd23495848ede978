import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to the standard streams (a guest's output is read live by the host).
public enum FileHandleOutput {
    public static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        bytes.withUnsafeMutableBytes { b in _ = write(2, b.baseAddress, b.count) }
    }

    public static func stdout(_ s: String) {
        var bytes = Array(s.utf8)
        bytes.withUnsafeMutableBytes { b in
            var off = 0
            while off < b.count {
                let n = write(1, b.baseAddress! + off, b.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
}
