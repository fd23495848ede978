import ArgumentParser
import Foundation
import IavfModel

/// `--model FILE`: the transition table a reviewer edited (a whole table, or a delta on a
/// built-in generation), in the format `iavf-check model` prints.
struct ModelOption: ParsableArguments {
    @Option(name: .customLong("model"), help: ArgumentHelp(
        "A transition table to check against instead of the built-in one of its generation: `iavf-check model --generation G > FILE`, edit rows (or keep only the changed rows under `delta: why`), pass FILE.",
        valueName: "FILE"))
    var path: String?

    /// `--model ABSOLUTE-PATH` for an iavf-check run inside a guest (the host's / is the
    /// guest's root), validated here first so bad input fails before anything boots.
    func guestArguments() throws -> [String] {
        guard path != nil, try load() != nil else { return [] }
        return ["--model", URL(fileURLWithPath: path!).standardizedFileURL.path]
    }

    /// The table, or nil for the built-in ones. Bad input (exit 2) names the file and line.
    func load() throws -> ModelTable? {
        guard let path else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BadInput("bad input: \(path): cannot read the model file")
        }
        do {
            return try ModelText.parse(String(decoding: data, as: UTF8.self), file: path)
        } catch let e as ModelTextError {
            throw BadInput("bad input: \(e)")
        }
    }
}
