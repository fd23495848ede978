import Foundation

/// The sections of a 64-bit little-endian ELF file (a kernel module, a vmlinux), by name.
public struct ELFSections: Sendable, Equatable {
    public struct Section: Sendable, Equatable {
        public var name: String
        public var offset: Int
        public var size: Int
    }

    public var sections: [Section]

    public func named(_ name: String) -> Section? { sections.first { $0.name == name } }

    /// Nil when `data` is not a 64-bit little-endian ELF file with a readable section table.
    public init?(_ data: Data) {
        guard let list = data.withUnsafeBytes({ (raw: UnsafeRawBufferPointer) -> [Section]? in
            guard raw.count >= 64, raw[0] == 0x7f, raw[1] == 0x45, raw[2] == 0x4c, raw[3] == 0x46,
                  raw[4] == 2, raw[5] == 1 else { return nil }
            func u16(_ o: Int) -> Int { Int(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) }
            func u32(_ o: Int) -> Int { Int(raw.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) }
            func u64(_ o: Int) -> Int { Int(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian) }
            let shoff = u64(0x28), shentsize = u16(0x3a), shnum = u16(0x3c), shstrndx = u16(0x3e)
            guard shentsize >= 64, shstrndx < shnum, shoff > 0, shoff <= raw.count,
                  shnum * shentsize <= raw.count - shoff else { return nil }
            func header(_ i: Int) -> (name: Int, type: Int, offset: Int, size: Int) {
                let h = shoff + i * shentsize
                return (u32(h), u32(h + 4), u64(h + 0x18), u64(h + 0x20))
            }
            let strtab = header(shstrndx)
            guard strtab.offset >= 0, strtab.size >= 0, strtab.offset <= raw.count,
                  strtab.size <= raw.count - strtab.offset else { return nil }
            var out: [Section] = []
            for i in 0..<shnum {
                let h = header(i)
                guard h.name >= 0, h.name < strtab.size else { continue }
                let start = strtab.offset + h.name
                let end = raw[start..<(strtab.offset + strtab.size)].firstIndex(of: 0) ?? (strtab.offset + strtab.size)
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<end]), as: UTF8.self)
                // SHT_NOBITS (8) occupies no bytes in the file.
                let size = h.type == 8 ? 0 : h.size
                guard h.offset >= 0, size >= 0, h.offset <= raw.count, size <= raw.count - h.offset else { return nil }
                out.append(Section(name: name, offset: h.offset, size: size))
            }
            return out
        }) else { return nil }
        sections = list
    }

    /// The NUL-separated strings of section `name` (e.g. `.modinfo`), or nil when absent.
    public func strings(of name: String, in data: Data) -> [String]? {
        guard let s = named(name) else { return nil }
        return data[data.startIndex + s.offset ..< data.startIndex + s.offset + s.size]
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// What a kernel module file says about itself: vermagic, name, BTF.
public struct ModuleFacts: Sendable, Equatable {
    /// The whole `vermagic=` value, e.g. "6.1.0-56-amd64 SMP preempt mod_unload modversions ".
    public var vermagic: String?
    /// The release the module was built for: the first word of vermagic.
    public var release: String? { vermagic?.split(separator: " ").first.map(String.init) }
    public var name: String?
    /// Bytes of the `.BTF` section (0: none).
    public var btfBytes: Int
    /// A `.BTF_ids` section (BTF_ID lists resolve_btfids must patch).
    public var hasBTFIds: Bool
    /// The modules it needs loaded first (`depends=`).
    public var depends: [String] = []

    /// Nil when the file is not an ELF kernel module (no `.modinfo`).
    public static func read(path: String) -> ModuleFacts? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
              let elf = ELFSections(data), let info = elf.strings(of: ".modinfo", in: data) else { return nil }
        func field(_ key: String) -> String? {
            info.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        return ModuleFacts(vermagic: field("vermagic"), name: field("name"),
                           btfBytes: elf.named(".BTF")?.size ?? 0, hasBTFIds: elf.named(".BTF_ids") != nil,
                           depends: (field("depends") ?? "").split(separator: ",").map(String.init))
    }
}

/// Gets the `vmlinux` ELF (with its `.BTF` section) out of a compressed x86 `bzImage`
/// (`vmlinuz-RELEASE`): the boot protocol header (2.08+) says where the compressed payload is,
/// its magic says the compression, and the matching standard tool decompresses it.
public enum KernelImage {
    public enum Compression: String, Sendable, Equatable {
        case gzip, xz, zstd, bzip2, lzma, lz4, lzo
    }

    /// The compressed payload's byte range in a bzImage, from the setup header
    /// (`setup_sects` at 0x1f1, "HdrS" at 0x202, protocol at 0x206, `payload_offset`/`payload_length` at 0x248).
    public static func payloadRange(of image: Data) -> Range<Int>? {
        guard image.count > 0x250 else { return nil }
        let b = [UInt8](image.prefix(0x250))
        guard b[0x202] == 0x48, b[0x203] == 0x64, b[0x204] == 0x72, b[0x205] == 0x53 else { return nil }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard u16(0x206) >= 0x208 else { return nil }
        let setupSects = b[0x1f1] == 0 ? 4 : Int(b[0x1f1])
        let start = (setupSects + 1) * 512 + u32(0x248)
        let length = u32(0x24c)
        guard length > 0, start + length <= image.count else { return nil }
        return start ..< start + length
    }

    public static func compression(of payload: Data) -> Compression? {
        let m = [UInt8](payload.prefix(6))
        guard m.count >= 4 else { return nil }
        if m[0] == 0x1f, m[1] == 0x8b { return .gzip }
        if m.count >= 6, m == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] { return .xz }
        if m[0] == 0x28, m[1] == 0xb5, m[2] == 0x2f, m[3] == 0xfd { return .zstd }
        if m[0] == 0x42, m[1] == 0x5a, m[2] == 0x68 { return .bzip2 }
        if m[0] == 0x5d, m[1] == 0x00, m[2] == 0x00 { return .lzma }
        if m[0] == 0x02, m[1] == 0x21, m[2] == 0x4c, m[3] == 0x18 { return .lz4 }
        if m[0] == 0x89, m[1] == 0x4c, m[2] == 0x5a, m[3] == 0x4f { return .lzo }
        return nil
    }

    /// The tool and arguments that write the decompressed payload of FILE to stdout.
    /// Kernel payloads end with 4 bytes of uncompressed size: xz reads a single stream; gzip
    /// exits 2 on that trailing garbage, which `extractVmlinux` tolerates when the ELF is whole.
    static func decompressor(_ c: Compression) -> (tool: String, package: String, args: [String]) {
        switch c {
        case .gzip: return ("gzip", "gzip", ["-dc"])
        case .xz: return ("xz", "xz-utils", ["-dc", "--single-stream"])
        case .zstd: return ("zstd", "zstd", ["-dcq"])
        case .bzip2: return ("bzip2", "bzip2", ["-dc"])
        case .lzma: return ("xz", "xz-utils", ["-dc", "--format=lzma"])
        case .lz4: return ("lz4", "lz4", ["-dc"])
        case .lzo: return ("lzop", "lzop", ["-dc"])
        }
    }

    /// Writes the vmlinux ELF of `vmlinuz` to `output`; throws unless it is an ELF with `.BTF`.
    public static func extractVmlinux(from vmlinuz: String, to output: String) throws {
        guard let image = try? Data(contentsOf: URL(fileURLWithPath: vmlinuz), options: .alwaysMapped) else {
            throw IavfModuleError.environment("cannot read \(vmlinuz)")
        }
        guard let range = payloadRange(of: image) else {
            throw IavfModuleError.environment("\(vmlinuz) is not an x86 bzImage with boot protocol 2.08 or later; " +
                                              "cannot take vmlinux out of it")
        }
        let payload = image.subdata(in: range)
        guard let kind = compression(of: payload) else {
            throw IavfModuleError.environment("\(vmlinuz): unknown compression of the kernel payload " +
                                              "(magic \(payload.prefix(6).map { String(format: "%02x", $0) }.joined()))")
        }
        let (name, package, args) = decompressor(kind)
        guard let tool = HostTools.find(name) else {
            throw IavfModuleError.environment("\(name) not found (the guest kernel is \(kind.rawValue)-compressed): " +
                                              "apt-get install -y --no-install-recommends \(package)")
        }
        let dir = (output as NSString).deletingLastPathComponent
        let compressed = (dir as NSString).appendingPathComponent(".payload-\(getpid())")
        let partial = output + ".part-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: compressed); try? FileManager.default.removeItem(atPath: partial) }
        do {
            try payload.write(to: URL(fileURLWithPath: compressed))
        } catch {
            throw IavfModuleError.environment("cannot write \(compressed): \(error.localizedDescription)")
        }
        // sh for the redirection: Subprocess captures stdout in memory otherwise (65 MB).
        let out = try Subprocess.run("/bin/sh", ["-c", "exec \"$0\" \"$@\" < \"$IN\" > \"$OUT\"", tool] + args,
                                     environment: ProcessInfo.processInfo.environment.merging(["IN": compressed, "OUT": partial]) { $1 })
        let data = (try? Data(contentsOf: URL(fileURLWithPath: partial), options: .alwaysMapped)) ?? Data()
        guard let elf = ELFSections(data) else {
            throw IavfModuleError.environment("\(name) \(args.joined(separator: " ")) of \(vmlinuz)'s payload gave no ELF " +
                                              "(exit \(out.status)): \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard (elf.named(".BTF")?.size ?? 0) > 0 else {
            throw IavfModuleError.environment("""
            the vmlinux in \(vmlinuz) has no .BTF section: the kernel was built without CONFIG_DEBUG_INFO_BTF, \
            so no module BTF can be generated against it (the probes then need kprobes)
            """)
        }
        do {
            try? FileManager.default.removeItem(atPath: output)
            try FileManager.default.moveItem(atPath: partial, toPath: output)
        } catch {
            throw IavfModuleError.environment("cannot write \(output): \(error.localizedDescription)")
        }
    }
}
