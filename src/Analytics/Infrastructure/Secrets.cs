using System.Security.Cryptography;
using System.Text;

namespace Analytics.Infrastructure;

/// <summary>Random secrets (ingest keys, API tokens, sessions) and the hashes they are stored under.</summary>
internal static class Secrets
{
    public static string New(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>SHA-256 of a high-entropy secret; enough for keys and tokens (passwords use PBKDF2).</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Compares the secrets' SHA-256 hashes in constant time, so not even their lengths show in the timing.</summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}
