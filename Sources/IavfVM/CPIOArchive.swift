import Foundation

/// Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header,
/// the NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes.
/// Entries are owned by root; device nodes need no privileges to write.
public struct CPIOArchive {
    public private(set) var data = Data()
    private var nextInode: UInt32 = 1
    private var finished = false

    public init() {}

    static let S_IFDIR: UInt32 = 0o040000
    static let S_IFREG: UInt32 = 0o100000
    static let S_IFLNK: UInt32 = 0o120000
    static let S_IFCHR: UInt32 = 0o020000

    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) {
        append(path, mode: Self.S_IFDIR | mode, nlink: 2, body: Data())
    }

    public mutating func addFile(_ path: String, contents: Data, mode: UInt32 = 0o644) {
        append(path, mode: Self.S_IFREG | mode, body: contents)
    }

    public mutating func addSymlink(_ path: String, target: String) {
        append(path, mode: Self.S_IFLNK | 0o777, body: Data(target.utf8))
    }

    public mutating func addCharacterDevice(_ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) {
        append(path, mode: Self.S_IFCHR | mode, body: Data(), rdev: (major, minor))
    }

    /// Appends the TRAILER!!! entry and returns the archive.
    public mutating func finish() -> Data {
        if !finished {
            append("TRAILER!!!", mode: 0, nlink: 1, body: Data(), inode: 0)
            finished = true
        }
        return data
    }

    private mutating func append(_ rawPath: String, mode: UInt32, nlink: UInt32 = 1, body: Data,
                                 rdev: (UInt32, UInt32) = (0, 0), inode: UInt32? = nil) {
        precondition(!finished, "CPIOArchive: entry after the trailer")
        // Names are relative ("bin/sh"), the way `find . | cpio -o` writes them, minus the "./".
        var path = rawPath
        while path.hasPrefix("/") { path.removeFirst() }
        let name = Data(path.utf8) + Data([0])
        let ino = inode ?? nextInode
        if inode == nil { nextInode += 1 }
        let fields: [UInt32] = [ino, mode, 0, 0, nlink, 0, UInt32(body.count), 0, 0, rdev.0, rdev.1,
                                UInt32(name.count), 0]
        var header = "070701"
        for field in fields { header += Self.hex8(field) }
        data.append(Data(header.utf8))
        data.append(name)
        pad()
        data.append(body)
        pad()
    }

    private mutating func pad() {
        let extra = (4 - data.count % 4) % 4
        if extra > 0 { data.append(Data(repeating: 0, count: extra)) }
    }

    static func hex8(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// One entry read back from a newc archive (tests and `--keep-console` debugging).
public struct CPIOEntry: Equatable, Sendable {
    public var name: String
    public var mode: UInt32
    public var rdevMajor: UInt32
    public var rdevMinor: UInt32
    public var contents: Data
    public var isDirectory: Bool { mode & 0o170000 == CPIOArchive.S_IFDIR }
    public var isSymlink: Bool { mode & 0o170000 == CPIOArchive.S_IFLNK }
    public var isRegularFile: Bool { mode & 0o170000 == CPIOArchive.S_IFREG }
    public var isCharacterDevice: Bool { mode & 0o170000 == CPIOArchive.S_IFCHR }
}

extension CPIOArchive {
    /// Parses a newc archive up to its trailer; nil if malformed.
    public static func entries(of archive: Data) -> [CPIOEntry]? {
        let bytes = [UInt8](archive)
        var offset = 0
        var result: [CPIOEntry] = []
        func align(_ n: Int) -> Int { (n + 3) & ~3 }
        while offset + 110 <= bytes.count {
            guard String(decoding: bytes[offset..<offset + 6], as: UTF8.self) == "070701" else { return nil }
            var fields: [UInt32] = []
            for i in 0..<13 {
                let start = offset + 6 + i * 8
                guard let v = UInt32(String(decoding: bytes[start..<start + 8], as: UTF8.self), radix: 16) else {
                    return nil
                }
                fields.append(v)
            }
            let nameSize = Int(fields[11]), fileSize = Int(fields[6])
            let nameStart = offset + 110
            guard nameSize >= 1, nameStart + nameSize <= bytes.count else { return nil }
            let name = String(decoding: bytes[nameStart..<nameStart + nameSize - 1], as: UTF8.self)
            let dataStart = align(nameStart + nameSize)
            guard dataStart + fileSize <= bytes.count else { return nil }
            if name == "TRAILER!!!" { return result }
            result.append(CPIOEntry(name: name, mode: fields[1], rdevMajor: fields[9], rdevMinor: fields[10],
                                    contents: Data(bytes[dataStart..<dataStart + fileSize])))
            offset = align(dataStart + fileSize)
        }
        return nil
    }
}
