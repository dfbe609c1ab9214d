// The caption model seen through the probes (issue 5).
public enum Explanations {}
