// Models: encoders, fusion, the shared Transformer, training (issue 4).
public enum Models {}
