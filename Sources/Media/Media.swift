import Engine
public enum MediaModule {}
