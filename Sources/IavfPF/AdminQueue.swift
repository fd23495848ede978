/// The VF's BAR0 registers the PF side uses (avf-device-emulation.md §2), as byte offsets.
public enum AVFRegister {
    public static let icr01: Int = 0x4800
    public static let icr0Ena1: Int = 0x5000
    public static let dynCtl01: Int = 0x5C00
    public static let arqBAH: Int = 0x6000
    public static let atqH: Int = 0x6400
    public static let atqLen: Int = 0x6800
    public static let arqBAL: Int = 0x6C00
    public static let arqT: Int = 0x7000
    public static let arqH: Int = 0x7400
    public static let atqBAH: Int = 0x7800
    public static let atqBAL: Int = 0x7C00
    public static let arqLen: Int = 0x8000
    public static let atqT: Int = 0x8400
    public static let rstat: Int = 0x8800

    /// ATQLEN/ARQLEN: ring length in bits 9:0, enable in bit 31.
    public static let lenMask: UInt32 = 0x3FF
    public static let lenEnable: UInt32 = 0x8000_0000
    /// ICR01 bit 30: admin queue cause.
    public static let icrAdminQueue: UInt32 = 0x4000_0000
    /// DYN_CTL01 bit 0: interrupt enable.
    public static let dynCtlIntEna: UInt32 = 0x1
}

/// VFGEN_RSTAT values.
public enum ResetStatus: UInt32 {
    case inProgress = 0, completed = 1, vfActive = 2
}

/// One 32-byte admin queue descriptor, little endian (avf-device-emulation.md §3.1).
public struct AQDescriptor: Equatable, Sendable {
    public var flags: UInt16 = 0
    public var opcode: UInt16 = 0
    public var datalen: UInt16 = 0
    public var retval: UInt16 = 0
    /// virtchnl opcode.
    public var cookieHigh: UInt32 = 0
    /// virtchnl status (signed).
    public var cookieLow: UInt32 = 0
    public var param0: UInt32 = 0
    public var param1: UInt32 = 0
    public var addrHigh: UInt32 = 0
    public var addrLow: UInt32 = 0

    public static let size = 32

    public enum Flag {
        public static let dd: UInt16 = 0x0001
        public static let cmp: UInt16 = 0x0002
        public static let err: UInt16 = 0x0004
        public static let vfe: UInt16 = 0x0008
        public static let lb: UInt16 = 0x0200
        public static let rd: UInt16 = 0x0400
        public static let vfc: UInt16 = 0x0800
        public static let buf: UInt16 = 0x1000
        public static let si: UInt16 = 0x2000
        public static let ei: UInt16 = 0x4000
        public static let fe: UInt16 = 0x8000
    }

    public enum Opcode {
        public static let queueShutdown: UInt16 = 0x0003
        public static let sendToPF: UInt16 = 0x0801
        public static let sendToVF: UInt16 = 0x0802
    }

    /// The largest buffer iavf attaches to one descriptor.
    public static let maxBuffer = 4096

    public init() {}

    /// Decodes 32 bytes; nil when fewer are given.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        let r = ByteReader(bytes)
        flags = r.u16(0); opcode = r.u16(2); datalen = r.u16(4); retval = r.u16(6)
        cookieHigh = r.u32(8); cookieLow = r.u32(12); param0 = r.u32(16); param1 = r.u32(20)
        addrHigh = r.u32(24); addrLow = r.u32(28)
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(count: Self.size)
        w.u16(0, flags); w.u16(2, opcode); w.u16(4, datalen); w.u16(6, retval)
        w.u32(8, cookieHigh); w.u32(12, cookieLow); w.u32(16, param0); w.u32(20, param1)
        w.u32(24, addrHigh); w.u32(28, addrLow)
        return w.bytes
    }

    public var bufferAddress: UInt64 { UInt64(addrHigh) << 32 | UInt64(addrLow) }
    public var virtchnlStatus: Int32 { Int32(bitPattern: cookieLow) }
}

/// Little-endian field access on a byte array; reads past the end give 0 (callers check lengths first).
public struct ByteReader {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var count: Int { bytes.count }

    public func u8(_ at: Int) -> UInt8 { at >= 0 && at < bytes.count ? bytes[at] : 0 }
    public func u16(_ at: Int) -> UInt16 { UInt16(u8(at)) | UInt16(u8(at + 1)) << 8 }
    public func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    public func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
    public func i32(_ at: Int) -> Int32 { Int32(bitPattern: u32(at)) }
}

public struct ByteWriter {
    public private(set) var bytes: [UInt8]
    public init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }

    public mutating func u8(_ at: Int, _ v: UInt8) { bytes[at] = v }
    public mutating func u16(_ at: Int, _ v: UInt16) { bytes[at] = UInt8(v & 0xFF); bytes[at + 1] = UInt8(v >> 8) }
    public mutating func u32(_ at: Int, _ v: UInt32) { u16(at, UInt16(v & 0xFFFF)); u16(at + 2, UInt16(v >> 16)) }
    public mutating func u64(_ at: Int, _ v: UInt64) { u32(at, UInt32(v & 0xFFFF_FFFF)); u32(at + 4, UInt32(v >> 32)) }
    public mutating func i32(_ at: Int, _ v: Int32) { u32(at, UInt32(bitPattern: v)) }
}
