using System.Globalization;
using System.Security.Cryptography;

namespace Analytics.Staff;

/// <summary>PBKDF2-HMAC-SHA512 password hashes: <c>pbkdf2-sha512$iterations$salt$hash</c>.</summary>
internal static class Passwords
{
    private const int Iterations = 210_000;
    private const string Scheme = "pbkdf2-sha512";

    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA512, 32);
        return string.Join('$', Scheme, Iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    /// <summary>A hash of a random password, checked when a sign-in names no user, so that takes as long as a wrong password.</summary>
    public static string UnknownUserHash => UnknownUser.Value;

    private static readonly Lazy<string> UnknownUser = new(() => Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(24))));

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var iterations))
        {
            return false;
        }

        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, Convert.FromBase64String(parts[2]), iterations, HashAlgorithmName.SHA512, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
