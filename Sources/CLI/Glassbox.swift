import ArgumentParser
import Foundation

@main struct Glassbox: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "glassbox", abstract: "Multimodal interpretability workbench.")
    func run() throws { print("glassbox") }
}
