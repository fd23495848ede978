import Foundation

/// The BPF objects compiled from bpf/ by the BPFObjectsPlugin, embedded in the binary.
public enum EmbeddedBPF {
    public static var iavf: [UInt8] { decode(EmbeddedBPFObjects.iavfBase64, size: EmbeddedBPFObjects.iavfSize) }
    public static var selftest: [UInt8] { decode(EmbeddedBPFObjects.selftestBase64, size: EmbeddedBPFObjects.selftestSize) }

    static func decode(_ s: StaticString, size: Int) -> [UInt8] {
        let text = s.withUTF8Buffer { Data($0) }
        guard let data = Data(base64Encoded: text), data.count == size else {
            fatalError("embedded BPF object is corrupt (build problem): expected \(size) bytes")
        }
        return [UInt8](data)
    }
}
