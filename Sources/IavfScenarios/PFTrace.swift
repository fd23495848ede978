import Foundation

/// The PF trace cannot say what is programmed: a case that checks "nothing programmed" must
/// not pass on a file that could not be read.
public struct PFTraceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ s: String) { description = s }
}

/// What the emulated PF has programmed per VF, followed from the `pf` trace that
/// `iavf-check pf --trace` appends to (a header line, then one `pf` event per change).
/// Reads only what was appended since the last call.
public final class PFTraceFollower {
    public let path: String
    /// The names the testbed's VFs may have in the trace (asked again before a name is
    /// called unknown: a VF can be bound after the follower was made).
    private let knownDevices: () -> Set<String>
    private var known: Set<String> = []
    private var offset: UInt64 = 0
    private var partial = Data()
    private var line = 0
    private var sets: [String: Set<UInt16>] = [:]
    private var ports: [String: PFPort] = [:]
    private var events: [String: Int] = [:]

    /// The `port` part of a PF's `pf` event: the `ip link set PF vf N` settings and the
    /// switch's counters for the VF.
    public struct PFPort: Equatable, Sendable {
        public var pvid = 0
        public var spoofchk = true
        public var trusted = false
        public var link = true
        public var tx = 0, rx = 0
        /// Drops by filter: vlan, spoof, link, bad_desc, no_buffer, no_route.
        public var drops: [String: Int] = [:]
        public init() {}
        public func drop(_ name: String) -> Int { drops[name] ?? 0 }
    }

    public init(path: String, knownDevices: @escaping () -> Set<String>) {
        self.path = path
        self.knownDevices = knownDevices
    }

    /// The non-zero VIDs the PF has programmed for the VF called one of `names` (its PCI
    /// address, or "vfN" when the PF has no names); empty when the PF never programmed it.
    /// Throws when the file is missing or unreadable, is not a PF trace, has a line that is
    /// not a `pf` event, or names a device that is none of the testbed's VFs.
    public func programmed(_ names: [String]) throws -> Set<UInt16> {
        try readNew()
        for n in names { if let s = sets[n] { return s } }
        return []
    }

    /// The last port state the PF reported for the VF (nil: its PF reports none) and the
    /// number of `pf` events seen for it so far.
    public func port(_ names: [String]) throws -> (port: PFPort?, events: Int) {
        try readNew()
        for n in names where events[n] != nil { return (ports[n], events[n] ?? 0) }
        return (nil, 0)
    }

    private func readNew() throws {
        guard let h = FileHandle(forReadingAtPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw PFTraceError("the PF trace \(path) \(why): what the PF programmed is unknown")
        }
        defer { try? h.close() }
        do {
            try h.seek(toOffset: offset)
        } catch {
            throw PFTraceError("the PF trace \(path) cannot be read: \(error)")
        }
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        if line == 0 && partial.isEmpty {
            throw PFTraceError("the PF trace \(path) is empty (no header): is `iavf-check pf --trace` writing it?")
        }
        while let nl = partial.firstIndex(of: 0x0a) {
            let text = partial[partial.startIndex..<nl]
            partial.removeSubrange(partial.startIndex...nl)
            line += 1
            guard let obj = try? JSONSerialization.jsonObject(with: text) as? [String: Any] else {
                throw PFTraceError("the PF trace \(path):\(line) is not JSON")
            }
            if line == 1 {
                guard obj["format"] as? String == "iavf-trace" else {
                    throw PFTraceError("the PF trace \(path) does not start with an iavf-trace header")
                }
                continue
            }
            guard obj["ev"] as? String == "pf", let dev = obj["dev"] as? String, let vids = obj["vids"] as? [[Int]] else {
                throw PFTraceError("the PF trace \(path):\(line) is not a `pf` event with dev and vids")
            }
            if !known.contains(dev) {
                known = knownDevices()
                guard known.contains(dev) else {
                    throw PFTraceError("the PF trace \(path):\(line) names device \(dev), which is none of this testbed's VFs (\(known.sorted().joined(separator: ", "))): another PF's trace?")
                }
            }
            sets[dev] = Set(vids.compactMap { $0.first }.filter { $0 > 0 && $0 < 4096 }.map { UInt16($0) })
            events[dev, default: 0] += 1
            if let p = obj["port"] as? [String: Any] {
                var port = PFPort()
                port.pvid = p["pvid"] as? Int ?? 0
                port.spoofchk = p["spoofchk"] as? Bool ?? true
                port.trusted = p["trust"] as? Bool ?? false
                port.link = p["link"] as? Bool ?? true
                port.tx = p["tx"] as? Int ?? 0
                port.rx = p["rx"] as? Int ?? 0
                port.drops = (p["drops"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
                ports[dev] = port
            }
        }
    }
}
