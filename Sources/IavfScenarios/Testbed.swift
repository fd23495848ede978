import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The suite's world inside the guest: the emulated PF's VFs bound to iavf, each moved into
/// a network namespace of its own (as the selftest's setup does), the PF's control FIFO and
/// the PF's record of what it has programmed.
public final class Testbed {
    public struct VF: Sendable {
        public var index: Int
        public var pci: String
        public var ifname: String
        public var netns: String
        /// "VF1", "VF2".
        public var label: String { "VF\(index + 1)" }
    }

    /// How the VLAN, link and address changes reach the kernel: one rtnetlink request each,
    /// as `ip` sends it (the suite: the pace of the selftest on hardware, where `ip` takes a
    /// millisecond), or one `ip` process each (a tenth of a second under TCG; stress and
    /// `bench downup`, whose op spacing and published figures were measured so). The driver
    /// sees the same calls either way.
    public enum Changes: String, Sendable { case netlink, ip }

    public private(set) var vfs: [VF] = []
    public let changes: Changes
    public let pfControl: String
    public let pfTrace: String
    public let log: (String) -> Void
    private var follower: PFTraceFollower!

    public init(pfControl: String, pfTrace: String, changes: Changes = .netlink, log: @escaping (String) -> Void) {
        self.changes = changes
        self.pfControl = pfControl
        self.pfTrace = pfTrace
        self.log = log
        follower = PFTraceFollower(path: pfTrace) { [unowned self] in self.vfNames() }
    }

    /// Every name a VF of this guest can have in the PF's trace: the PCI addresses of the
    /// emulated PF's functions (8086:1889) and of iavf's, and "vfN" for a PF without names.
    func vfNames() -> Set<String> {
        var names = Set(Self.iavfNetdevs().map(\.pci) + vfs.map(\.pci))
        let dir = "/sys/bus/pci/devices"
        for fn in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let id = (try? String(contentsOfFile: "\(dir)/\(fn)/device", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if id == "0x1889" { names.insert(fn) }
        }
        for i in 0..<max(names.count, vfs.count, 2) { names.insert("vf\(i)") }
        return names
    }

    // MARK: discovery and namespaces

    /// The iavf-bound PCI functions and their netdevs, in PCI order.
    public static func iavfNetdevs() -> [(pci: String, ifname: String)] {
        let drv = "/sys/bus/pci/drivers/iavf"
        let fns = ((try? FileManager.default.contentsOfDirectory(atPath: drv)) ?? []).filter { $0.contains(":") }.sorted()
        return fns.compactMap { pci in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(drv)/\(pci)/net")) ?? []
            return names.first.map { (pci, $0) }
        }
    }

    /// Waits for `count` iavf netdevs, then moves each into `iavf-tN-PID` and brings it up.
    public func setUp(count: Int, timeout: Double = 30) throws {
        var found: [(pci: String, ifname: String)] = []
        guard waitFor(timeout, { found = Self.iavfNetdevs(); return found.count >= count }) else {
            throw ScenarioError("only \(found.count) of \(count) iavf netdevs appeared in \(Int(timeout)) s")
        }
        let pid = getpid()
        for (i, d) in found.prefix(count).enumerated() {
            let ns = "iavf-t\(i + 1)-\(pid)"
            _ = Shell.run(["ip", "netns", "del", ns])
            try check(Shell.run(["ip", "netns", "add", ns]), "ip netns add \(ns)")
            try check(Shell.run(["ip", "link", "set", d.ifname, "netns", ns]), "move \(d.ifname) to \(ns)")
            var vf = VF(index: i, pci: d.pci, ifname: d.ifname, netns: ns)
            try check(ip(vf, "link", "set", vf.ifname, "up"), "ip link set \(vf.ifname) up")
            log("\(vf.label) -> \(ns) (\(d.pci), \(d.ifname))")
            vf.ifname = d.ifname
            vfs.append(vf)
        }
    }

    public func tearDown() {
        for vf in vfs { _ = Shell.run(["ip", "netns", "del", vf.netns]) }
    }

    /// Moves VF `i`'s netdev into namespace `ns` (created if missing) and brings it up there.
    /// The move closes the device; its VLAN devices stay in the old namespace (8021q deletes
    /// them only when the real device unregisters) and work again when it comes back.
    public func move(_ i: Int, to ns: String) throws {
        if !Shell.run(["ip", "netns", "list"]).output.split(separator: "\n").contains(where: { $0.split(separator: " ").first.map(String.init) == ns }) {
            try check(Shell.run(["ip", "netns", "add", ns]), "ip netns add \(ns)")
        }
        let vf = vfs[i]
        try check(ip(vf, "link", "set", vf.ifname, "netns", ns), "move \(vf.ifname) to \(ns)")
        vfs[i].netns = ns
        try check(ip(vfs[i], "link", "set", vf.ifname, "up"), "ip link set \(vf.ifname) up in \(ns)")
    }

    /// Unbinds VF `i` from iavf and binds it again: a new netdev with an empty filter list,
    /// moved into `namespace` (default: where the VF was) and brought up.
    public func rebind(_ i: Int, into namespace: String? = nil) throws {
        let pci = vfs[i].pci
        guard Shell.write(pci, to: "/sys/bus/pci/drivers/iavf/unbind") else { throw ScenarioError("unbind \(pci) failed") }
        guard Shell.write(pci, to: "/sys/bus/pci/drivers/iavf/bind") else { throw ScenarioError("bind \(pci) failed") }
        if let namespace { vfs[i].netns = namespace }
        try rediscover(i)
    }

    /// After an unbind/bind the netdev is new and back in the initial namespace.
    public func rediscover(_ i: Int, timeout: Double = 20) throws {
        let pci = vfs[i].pci
        var name: String?
        guard waitFor(timeout, { name = Self.iavfNetdevs().first { $0.pci == pci }?.ifname; return name != nil }) else {
            throw ScenarioError("\(vfs[i].label) (\(pci)) did not come back after bind")
        }
        vfs[i].ifname = name!
        try check(Shell.run(["ip", "link", "set", name!, "netns", vfs[i].netns]), "move \(name!) back to \(vfs[i].netns)")
        try check(ip(vfs[i], "link", "set", name!, "up"), "ip link set up")
    }

    // MARK: commands

    /// Whether the VF's netdev is LOWER_UP in its namespace (`ip -o link show` says LOWER_UP).
    public func isLowerUp(_ vf: VF) -> Bool {
        if let t = linkTable(vf), let l = try? t.links() { return l.first { $0.name == vf.ifname }?.isLowerUp ?? false }
        return ip(vf, "-o", "link", "show", vf.ifname).output.contains("LOWER_UP")
    }

    /// Whether the VF's netdev is in its namespace.
    public func linkExists(_ vf: VF) -> Bool {
        if let t = linkTable(vf), let l = try? t.links() { return l.contains { $0.name == vf.ifname } }
        return ip(vf, "-o", "link", "show", vf.ifname).ok
    }

    /// The namespace's netlink reader: made on first use and again when the namespace is made
    /// anew (another inode at its path). nil when it cannot be opened: the callers then ask
    /// `ip`, as they did before (noted once).
    private func linkTable(_ vf: VF) -> LinkTable? {
        var st = stat()
        guard stat(LinkTable.path(vf.netns), &st) == 0 else { return nil }
        if let (table, inode) = linkTables[vf.netns], inode == st.st_ino { return table }
        do {
            let t = try LinkTable(namespace: vf.netns)
            linkTables[vf.netns] = (t, st.st_ino)
            return t
        } catch {
            if !linkTableFailed { log("netlink reads in \(vf.netns) failed (\(error)); asking ip instead") }
            linkTableFailed = true
            return nil
        }
    }

    private var linkTables: [String: (LinkTable, ino_t)] = [:]
    private var linkTableFailed = false

    public func ip(_ vf: VF, _ args: String...) -> Shell.Result { ip(vf, args) }
    public func ip(_ vf: VF, _ args: [String]) -> Shell.Result { Shell.run(["ip", "-n", vf.netns] + args) }

    public func vlanName(_ vf: VF, _ vid: UInt16) -> String { "\(vf.ifname.prefix(9)).\(vid)" }

    public func addVlanCommand(_ vf: VF, _ vid: UInt16) -> [String] {
        ["ip", "-n", vf.netns, "link", "add", "link", vf.ifname, "name", vlanName(vf, vid), "type", "vlan", "id", String(vid)]
    }

    public func delVlanCommand(_ vf: VF, _ vid: UInt16) -> [String] {
        ["ip", "-n", vf.netns, "link", "del", vlanName(vf, vid)]
    }

    /// VLAN adds (`vid > 0`) and deletes (`-vid`) in one `ip -batch`, in order: the pace of the
    /// selftest's shell loops on real hardware (a millisecond an op), which one `ip` process
    /// per op under TCG (a tenth of a second each) would slow a hundredfold. `ip` stops at the
    /// first command that fails; the result names it.
    public func vlanBatch(_ vf: VF, _ ops: [Int]) -> (ok: Bool, failed: Int?, output: String) {
        let lines = ops.map { v in
            v > 0 ? "link add link \(vf.ifname) name \(vlanName(vf, UInt16(v))) type vlan id \(v)"
                  : "link del \(vlanName(vf, UInt16(-v)))"
        }
        let path = "/tmp/iavf-check-ops-\(getpid()).batch"
        FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        defer { unlink(path) }
        let r = ip(vf, "-batch", path)
        guard !r.ok else { return (true, nil, r.output) }
        return (false, Self.failedBatchOp(r.output), r.output)
    }

    /// The 0-based op `ip -batch` stopped at, from its "Command failed FILE:LINE".
    public static func failedBatchOp(_ output: String) -> Int? {
        guard let r = output.range(of: "Command failed ") else { return nil }
        let rest = output[r.upperBound...].prefix { $0 != "\n" }
        guard let colon = rest.lastIndex(of: ":"), let line = Int(rest[rest.index(after: colon)...]), line > 0 else { return nil }
        return line - 1
    }

    @discardableResult public func addVlan(_ vf: VF, _ vid: UInt16) -> Shell.Result {
        change(vf) { try $0.addVlan(parent: vf.ifname, name: vlanName(vf, vid), id: vid) } ?? Shell.run(addVlanCommand(vf, vid))
    }
    @discardableResult public func delVlan(_ vf: VF, _ vid: UInt16) -> Shell.Result {
        change(vf) { try $0.deleteLink(vlanName(vf, vid)) } ?? Shell.run(delVlanCommand(vf, vid))
    }
    @discardableResult public func down(_ vf: VF) -> Shell.Result { setLink(vf, vf.ifname, up: false) }
    @discardableResult public func up(_ vf: VF) -> Shell.Result { setLink(vf, vf.ifname, up: true) }

    /// `ip link set DEV up|down` for the VF or one of its VLAN devices.
    @discardableResult public func setLink(_ vf: VF, _ dev: String, up: Bool) -> Shell.Result {
        change(vf) { try $0.setLink(dev, up: up) } ?? ip(vf, "link", "set", dev, up ? "up" : "down")
    }

    /// `ip addr replace ADDRESS/PREFIX dev DEV`.
    @discardableResult public func replaceAddress(_ vf: VF, _ address: String, prefix: UInt8, dev: String) -> Shell.Result {
        change(vf) { try $0.replaceAddress(address, prefix: prefix, on: dev) } ?? ip(vf, "addr", "replace", "\(address)/\(prefix)", "dev", dev)
    }

    /// One change over the namespace's rtnetlink socket, as a command's result (status 2 and
    /// `ip`'s words on a refusal), counted with the commands as "rtnetlink"; nil when changes
    /// go through `ip` or the socket cannot be had.
    private func change(_ vf: VF, _ body: (LinkTable) throws -> Void) -> Shell.Result? {
        guard changes == .netlink, let t = linkTable(vf) else { return nil }
        let t0 = Date()
        defer { Spawned.shared.add(program: "rtnetlink", seconds: Date().timeIntervalSince(t0)) }
        do {
            try body(t)
            return Shell.Result(status: 0, output: "")
        } catch {
            return Shell.Result(status: 2, output: "\(error)\n")
        }
    }

    /// The VIDs of the VLAN devices on the VF.
    public func vlanDevices(_ vf: VF) -> Set<UInt16> {
        if let t = linkTable(vf), let v = try? t.vlans(on: vf.ifname) { return v }
        let r = ip(vf, "-d", "-o", "link", "show", "type", "vlan")
        var out = Set<UInt16>()
        for line in r.output.split(separator: "\n") where line.contains("@\(vf.ifname):") {
            if let range = line.range(of: "vlan protocol 802.1Q id ") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                if let v = UInt16(digits) { out.insert(v) }
            }
        }
        return out
    }

    /// Deletes every VLAN device of the VF.
    public func deleteAllVlans(_ vf: VF) {
        for v in vlanDevices(vf).sorted() { delVlan(vf, v) }
    }

    // MARK: the PF

    /// Sends a fault or event line to the emulated PF ("reset vf=0", "link down vf=1", ...).
    public func pf(_ line: String) throws {
        let fd = open(pfControl, O_WRONLY | O_NONBLOCK)
        guard fd >= 0 else { throw ScenarioError("cannot open the PF control FIFO \(pfControl): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let text = line + "\n"
        guard text.withCString({ write(fd, $0, strlen($0)) }) == text.utf8.count else {
            throw ScenarioError("cannot write to the PF control FIFO")
        }
    }

    /// The VIDs (non-zero) the PF has programmed for the VF, from its `pf` events. Throws
    /// when the trace cannot tell (unreadable, not a PF trace, another device's).
    public func programmed(_ vf: VF) throws -> Set<UInt16> {
        try follower.programmed([vf.pci, "vf\(vf.index)"])
    }

    /// The PF's port state for the VF, fresh: asks the PF for a `stats` event and waits for it.
    public func pfPort(_ vf: VF, timeout: Double = 5) throws -> PFTraceFollower.PFPort {
        let names = [vf.pci, "vf\(vf.index)"]
        let before = try follower.port(names).events
        try pf("stats vf=\(vf.index)")
        var port: PFTraceFollower.PFPort?
        guard try waitFor(timeout, {
            let now = try follower.port(names)
            port = now.port
            return now.events > before
        }), let port else {
            throw ScenarioError("the PF wrote no `pf` event with port counters for \(vf.label) within \(Int(timeout)) s (a PF without a data path?)")
        }
        return port
    }

    // MARK: waiting

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    public func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while true {
            if try condition() { return true }
            if Date() >= end { return false }
            usleep(20_000)
        }
    }

    private func check(_ r: Shell.Result, _ what: String) throws {
        guard r.ok else { throw ScenarioError("\(what) failed: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }
}

public struct ScenarioError: Error, CustomStringConvertible {
    public var description: String
    public init(_ s: String) { description = s }
}
