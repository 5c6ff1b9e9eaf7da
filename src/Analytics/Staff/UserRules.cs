using System.Text.RegularExpressions;

namespace Analytics.Staff;

internal static partial class UserRules
{
    [GeneratedRegex(@"\A[A-Za-z0-9._@-]{1,64}\z")]
    private static partial Regex Name();

    public const int MinPasswordLength = 8;

    /// <summary>At least <see cref="MinPasswordLength"/> characters, counted as characters (an emoji is one), not UTF-16 units.</summary>
    public static bool IsLongEnough([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? password) =>
        password is not null && password.EnumerateRunes().Count() >= MinPasswordLength;

    public const string TokenNameRule = "name is required: at most 100 characters, no control characters.";

    /// <summary>An API token's name: 1–100 characters, no control characters (<see cref="TokenNameRule"/>).</summary>
    public static bool IsTokenName([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? name) =>
        !string.IsNullOrWhiteSpace(name) && name.Length <= 100 && !name.Any(char.IsControl);

    /// <summary>The field at fault and why, or nulls when the new user is fine.</summary>
    public static (string? Field, string? Error) Check(string? name, string? password, string role)
    {
        if (name is null || !Name().IsMatch(name))
        {
            return ("name", name is null ? "name is required: 1–64 letters, digits, '.', '_', '@' or '-'." : "name must be 1–64 letters, digits, '.', '_', '@' or '-'.");
        }

        return password is null ? ("password", "password is required (at least 8 characters).") : CheckChange(password, role);
    }

    /// <summary>
    /// The field at fault and why in a change of a user (a new password, a new role; null: kept), or
    /// nulls when it is fine.
    /// </summary>
    public static (string? Field, string? Error) CheckChange(string? password, string? role)
    {
        if (password is not null && !IsLongEnough(password))
        {
            return ("password", "password must have at least 8 characters.");
        }

        if (role is not (null or Roles.Admin or Roles.Viewer))
        {
            return ("role", "role must be \"admin\" or \"viewer\".");
        }

        return (null, null);
    }
}
