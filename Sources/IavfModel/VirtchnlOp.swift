/// virtchnl opcodes (`enum virtchnl_ops`, include/linux/avf/virtchnl.h), by the names the
/// trace uses (the constant without its `VIRTCHNL_OP_` prefix).
public struct VirtchnlOp: Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let name: String

    public init(code: Int32, name: String) {
        self.code = code
        self.name = name
    }

    public var description: String { name }

    public static let getVFResources = VirtchnlOp(code: 3, name: "GET_VF_RESOURCES")
    public static let enableQueues = VirtchnlOp(code: 8, name: "ENABLE_QUEUES")
    public static let disableQueues = VirtchnlOp(code: 9, name: "DISABLE_QUEUES")
    public static let addVlan = VirtchnlOp(code: 12, name: "ADD_VLAN")
    public static let delVlan = VirtchnlOp(code: 13, name: "DEL_VLAN")
    public static let event = VirtchnlOp(code: 17, name: "EVENT")
    public static let getOffloadVlanV2Caps = VirtchnlOp(code: 51, name: "GET_OFFLOAD_VLAN_V2_CAPS")
    public static let addVlanV2 = VirtchnlOp(code: 52, name: "ADD_VLAN_V2")
    public static let delVlanV2 = VirtchnlOp(code: 53, name: "DEL_VLAN_V2")
    public static let version = VirtchnlOp(code: 1, name: "VERSION")
    public static let resetVF = VirtchnlOp(code: 2, name: "RESET_VF")
    public static let configVSIQueues = VirtchnlOp(code: 6, name: "CONFIG_VSI_QUEUES")
    public static let configIRQMap = VirtchnlOp(code: 7, name: "CONFIG_IRQ_MAP")
    public static let addEthAddr = VirtchnlOp(code: 10, name: "ADD_ETH_ADDR")
    public static let delEthAddr = VirtchnlOp(code: 11, name: "DEL_ETH_ADDR")
    public static let configPromiscuousMode = VirtchnlOp(code: 14, name: "CONFIG_PROMISCUOUS_MODE")
    public static let getStats = VirtchnlOp(code: 15, name: "GET_STATS")
    public static let configRSSKey = VirtchnlOp(code: 23, name: "CONFIG_RSS_KEY")
    public static let configRSSLUT = VirtchnlOp(code: 24, name: "CONFIG_RSS_LUT")
    public static let getRSSHenaCaps = VirtchnlOp(code: 25, name: "GET_RSS_HENA_CAPS")
    public static let setRSSHena = VirtchnlOp(code: 26, name: "SET_RSS_HENA")
    public static let enableVlanStripping = VirtchnlOp(code: 27, name: "ENABLE_VLAN_STRIPPING")
    public static let disableVlanStripping = VirtchnlOp(code: 28, name: "DISABLE_VLAN_STRIPPING")
    public static let requestQueues = VirtchnlOp(code: 29, name: "REQUEST_QUEUES")
    public static let enableVlanStrippingV2 = VirtchnlOp(code: 54, name: "ENABLE_VLAN_STRIPPING_V2")
    public static let disableVlanStrippingV2 = VirtchnlOp(code: 55, name: "DISABLE_VLAN_STRIPPING_V2")
    public static let enableVlanInsertionV2 = VirtchnlOp(code: 56, name: "ENABLE_VLAN_INSERTION_V2")
    public static let disableVlanInsertionV2 = VirtchnlOp(code: 57, name: "DISABLE_VLAN_INSERTION_V2")

    /// Every opcode the 6.1 iavf driver can send or receive.
    public static let known: [VirtchnlOp] = [
        VirtchnlOp(code: 0, name: "UNKNOWN"),
        .version,
        .resetVF,
        .getVFResources,
        VirtchnlOp(code: 4, name: "CONFIG_TX_QUEUE"),
        VirtchnlOp(code: 5, name: "CONFIG_RX_QUEUE"),
        .configVSIQueues,
        .configIRQMap,
        .enableQueues, .disableQueues,
        .addEthAddr,
        .delEthAddr,
        .addVlan, .delVlan,
        .configPromiscuousMode,
        .getStats,
        .event,
        VirtchnlOp(code: 20, name: "IWARP"),
        VirtchnlOp(code: 21, name: "CONFIG_IWARP_IRQ_MAP"),
        VirtchnlOp(code: 22, name: "RELEASE_IWARP_IRQ_MAP"),
        .configRSSKey,
        .configRSSLUT,
        .getRSSHenaCaps,
        .setRSSHena,
        .enableVlanStripping,
        .disableVlanStripping,
        .requestQueues,
        VirtchnlOp(code: 30, name: "ENABLE_CHANNELS"),
        VirtchnlOp(code: 31, name: "DISABLE_CHANNELS"),
        VirtchnlOp(code: 32, name: "ADD_CLOUD_FILTER"),
        VirtchnlOp(code: 33, name: "DEL_CLOUD_FILTER"),
        VirtchnlOp(code: 45, name: "ADD_RSS_CFG"),
        VirtchnlOp(code: 46, name: "DEL_RSS_CFG"),
        VirtchnlOp(code: 47, name: "ADD_FDIR_FILTER"),
        VirtchnlOp(code: 48, name: "DEL_FDIR_FILTER"),
        .getOffloadVlanV2Caps, .addVlanV2, .delVlanV2,
        .enableVlanStrippingV2,
        .disableVlanStrippingV2,
        .enableVlanInsertionV2,
        .disableVlanInsertionV2,
    ]

    private static let byName: [String: VirtchnlOp] =
        Dictionary(uniqueKeysWithValues: known.map { ($0.name, $0) })
    private static let byCode: [Int32: VirtchnlOp] =
        Dictionary(uniqueKeysWithValues: known.map { ($0.code, $0) })

    /// The opcode for a trace name; an unknown name is kept with code -1 (the trace
    /// may come from a newer driver).
    public static func named(_ name: String) -> VirtchnlOp {
        byName[name] ?? VirtchnlOp(code: -1, name: name)
    }

    /// The opcode for a number, as the probes read it from the kernel.
    public static func code(_ code: Int32) -> VirtchnlOp {
        byCode[code] ?? VirtchnlOp(code: code, name: "OP_\(code)")
    }

    public var isVlanAdd: Bool { self == .addVlan || self == .addVlanV2 }
    public var isVlanDel: Bool { self == .delVlan || self == .delVlanV2 }
    public var isVlanFilterOp: Bool { isVlanAdd || isVlanDel }
    public var isV2: Bool { self == .addVlanV2 || self == .delVlanV2 }
}
