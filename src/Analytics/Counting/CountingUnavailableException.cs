namespace Analytics.Counting;

/// <summary>Redis is unreachable and the in-memory buffer is full: the hit was not taken.</summary>
internal sealed class CountingUnavailableException(string message) : Exception(message);
