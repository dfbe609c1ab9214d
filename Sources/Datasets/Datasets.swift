// Datasets: built-in datasets, captions.json, vocabulary, augmentation (issue 3).
public enum Datasets {}
