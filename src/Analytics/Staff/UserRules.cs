using System.Text.RegularExpressions;

namespace Analytics.Staff;

internal static partial class UserRules
{
    [GeneratedRegex(@"\A[A-Za-z0-9._@-]{1,64}\z")]
    private static partial Regex Name();

    /// <summary>The field at fault and why, or nulls when the new user is fine.</summary>
    public static (string? Field, string? Error) Check(string? name, string? password, string role)
    {
        if (name is null || !Name().IsMatch(name))
        {
            return ("name", "name is required: 1–64 letters, digits, '.', '_', '@' or '-'.");
        }

        if (password is not { Length: >= 8 })
        {
            return ("password", "password is required and must have at least 8 characters.");
        }

        if (role is not (Roles.Admin or Roles.Viewer))
        {
            return ("role", "role must be \"admin\" or \"viewer\".");
        }

        return (null, null);
    }
}
