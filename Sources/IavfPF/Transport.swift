import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the emulator needs from the device side: the VFs' BAR0 registers, DMA by guest-physical
/// address, interrupts, and a way to sleep until something changes.
public protocol PFTransport: AnyObject {
    var vfCount: Int { get }
    func read32(vf: Int, _ offset: Int) -> UInt32
    func write32(vf: Int, _ offset: Int, _ value: UInt32)
    func dmaRead(_ address: UInt64, count: Int) throws -> [UInt8]
    func dmaWrite(_ address: UInt64, _ bytes: [UInt8]) throws
    /// Raises MSI-X `vector` of the VF; false when it could not be delivered (MSI-X off).
    @discardableResult func raise(vf: Int, vector: Int) -> Bool
    /// Sleeps until an event arrives or the timeout passes; returns the event bits (`PFEventBits`).
    func wait(timeoutMs: Int) -> UInt64
}

/// The event bits of /dev/avfpf (avfpf_uapi.h): four per VF.
public enum PFEventBits {
    public static let mailbox = 0, flr = 1, command = 2, msix = 3
    public static func bit(vf: Int, _ kind: Int) -> UInt64 { 1 << UInt64(vf * 4 + kind) }
}

public struct TransportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The avfpf kernel module: /dev/avfpf (registers by mmap, events by read, interrupts by write) and
/// /dev/avfpf-mem (DMA by pread/pwrite at the guest-physical address).
public final class CharDeviceTransport: PFTransport {
    public static let stride = 0x40000
    public let vfCount: Int
    /// The PCI domain the module put the VFs in (for naming them "10000:00:0N.0").
    public let domain: Int
    private let control: Int32
    private let memory: Int32
    private let regs: UnsafeMutableRawPointer
    private let mapped: Int

    /// `parameters`: the module's sysfs parameter directory.
    public init(device: String = "/dev/avfpf", memoryDevice: String = "/dev/avfpf-mem",
                parameters: String = "/sys/module/avfpf/parameters") throws {
        func param(_ name: String) throws -> Int {
            guard let text = try? String(contentsOfFile: parameters + "/" + name, encoding: .utf8),
                  let v = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw TransportError("cannot read \(parameters)/\(name): is the avfpf module loaded? " +
                                     "(boot with memmap=2M$0x7e000000, then insmod avfpf.ko)")
            }
            return v
        }
        vfCount = try param("nvfs")
        domain = try param("domain_nr")
        control = open(device, O_RDWR | O_CLOEXEC)
        guard control >= 0 else {
            throw TransportError("cannot open \(device): \(String(cString: strerror(errno)))" +
                                 (errno == EBUSY ? " (another emulator is attached)" : ""))
        }
        memory = open(memoryDevice, O_RDWR | O_CLOEXEC)
        guard memory >= 0 else {
            let e = errno
            close(control)
            throw TransportError("cannot open \(memoryDevice): \(String(cString: strerror(e)))")
        }
        mapped = vfCount * Self.stride
        let p = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, control, 0)
        guard let p, p != MAP_FAILED else {
            let e = errno
            close(control); close(memory)
            throw TransportError("cannot mmap \(device): \(String(cString: strerror(e)))")
        }
        regs = p
    }

    deinit {
        munmap(regs, mapped)
        close(control)
        close(memory)
    }

    public func pciName(vf: Int) -> String { String(format: "%04x:00:%02x.0", domain, vf) }

    public func read32(vf: Int, _ offset: Int) -> UInt32 {
        precondition(vf >= 0 && vf < vfCount && offset >= 0 && offset < 0x20000 && offset % 4 == 0)
        return (regs + vf * Self.stride + offset).assumingMemoryBound(to: UInt32.self).pointee
    }

    public func write32(vf: Int, _ offset: Int, _ value: UInt32) {
        precondition(vf >= 0 && vf < vfCount && offset >= 0 && offset < 0x20000 && offset % 4 == 0)
        (regs + vf * Self.stride + offset).assumingMemoryBound(to: UInt32.self).pointee = value
    }

    public func dmaRead(_ address: UInt64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { pread(memory, $0.baseAddress, count, off_t(Int64(bitPattern: address))) }
        guard n == count else {
            throw TransportError("DMA read of \(count) bytes at 0x\(String(address, radix: 16)) refused: " +
                                 (n < 0 ? String(cString: strerror(errno)) : "short read \(n)"))
        }
        return buf
    }

    public func dmaWrite(_ address: UInt64, _ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        let n = bytes.withUnsafeBytes { pwrite(memory, $0.baseAddress, bytes.count, off_t(Int64(bitPattern: address))) }
        guard n == bytes.count else {
            throw TransportError("DMA write of \(bytes.count) bytes at 0x\(String(address, radix: 16)) refused: " +
                                 (n < 0 ? String(cString: strerror(errno)) : "short write \(n)"))
        }
    }

    @discardableResult
    public func raise(vf: Int, vector: Int) -> Bool {
        var cmd: (UInt32, UInt16, UInt16) = (1, UInt16(vf), UInt16(vector))
        return withUnsafeBytes(of: &cmd) { write(control, $0.baseAddress, 8) } == 8
    }

    public func wait(timeoutMs: Int) -> UInt64 {
        var pfd = pollfd(fd: control, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(max(0, timeoutMs)))
        guard r > 0, pfd.revents & Int16(POLLIN) != 0 else { return 0 }
        var bits: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &bits) { read(control, $0.baseAddress, 8) }
        return n == 8 ? UInt64(littleEndian: bits) : 0
    }
}

/// A device in memory, for tests: registers, sparse RAM, a log of raised vectors. Tests play the
/// driver's side by writing descriptors into `ram` and registers with `write32`.
public final class MemoryTransport: PFTransport {
    public let vfCount: Int
    public var registers: [[Int: UInt32]]
    public var ram: [UInt64: UInt8] = [:]
    /// Addresses outside [ramStart, ramEnd) are refused, like non-RAM in the kernel module.
    public var ramStart: UInt64 = 0x1000
    public var ramEnd: UInt64 = 0x8000_0000
    public var raised: [(vf: Int, vector: Int)] = []
    public var msixEnabled = true
    public var pendingEvents: UInt64 = 0

    public init(vfCount: Int) {
        self.vfCount = vfCount
        registers = Array(repeating: [:], count: vfCount)
    }

    public func read32(vf: Int, _ offset: Int) -> UInt32 { registers[vf][offset] ?? 0 }
    public func write32(vf: Int, _ offset: Int, _ value: UInt32) { registers[vf][offset] = value }

    func check(_ address: UInt64, _ count: Int) throws {
        guard address >= ramStart, address &+ UInt64(count) <= ramEnd, address &+ UInt64(count) >= address else {
            throw TransportError("DMA at 0x\(String(address, radix: 16)) is not RAM")
        }
    }

    public func dmaRead(_ address: UInt64, count: Int) throws -> [UInt8] {
        try check(address, count)
        return (0..<count).map { ram[address + UInt64($0)] ?? 0 }
    }

    public func dmaWrite(_ address: UInt64, _ bytes: [UInt8]) throws {
        try check(address, bytes.count)
        for (i, b) in bytes.enumerated() { ram[address + UInt64(i)] = b }
    }

    @discardableResult
    public func raise(vf: Int, vector: Int) -> Bool {
        guard msixEnabled else { return false }
        raised.append((vf, vector))
        return true
    }

    public func wait(timeoutMs: Int) -> UInt64 {
        defer { pendingEvents = 0 }
        return pendingEvents
    }
}
