import ArgumentParser
import Media

extension ImageFit: ExpressibleByArgument {}

/// `--fit`, wherever an image is read (Docs/cli.md): how an image of any size and aspect becomes
/// the model's S×S input. Default squash: what every earlier run trained on.
struct ImageFitOption: ParsableArguments {
    @Option(help: "How a non-square image becomes the model's S×S input: squash (default: the whole image resized), crop (the centred square), pad (aspect kept, mid-grey borders).")
    var fit: ImageFit = .squash
}
