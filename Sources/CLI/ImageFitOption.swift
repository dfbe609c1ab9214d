import ArgumentParser
import Media
import Models

extension ImageFit: ExpressibleByArgument {}

/// `--fit`, wherever an image is read for a model (Docs/cli.md): how an image of any size and
/// aspect becomes the model's S×S input. Default: the fit the model was trained with (its
/// checkpoint's `glassbox.image_fit`), squash for a checkpoint that does not record one.
struct ImageFitOption: ParsableArguments {
    @Option(help: "How a non-square image becomes the model's S×S input: squash (the whole image resized), crop (the centred square), pad (aspect kept, mid-grey borders). Default: the fit the model was trained with, else squash.")
    var fit: ImageFit?

    /// The fit to use for `model`'s inputs.
    func resolved(_ model: CaptionModel?) -> ImageFit { fit ?? model?.inputFit ?? .squash }
}
