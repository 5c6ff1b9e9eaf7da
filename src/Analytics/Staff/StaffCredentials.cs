using System.Security.Claims;
using Analytics.Infrastructure;
using Microsoft.Extensions.Options;

namespace Analytics.Staff;

/// <summary>
/// Who a credential stands for, checked against Redis each time: the configured admin token, an
/// API token (while its maker still exists, for the sites they may still read), or a session.
/// Used by <see cref="StaffAuthentication"/> for every request and by the live hub to check its
/// open connections again.
/// </summary>
internal sealed class StaffCredentials(StaffStore staff, IOptions<AnalyticsOptions> analytics)
{
    public const string SchemeName = "Analytics";
    public const string SiteClaim = "site";

    /// <summary>The <see cref="StaffUser.Stamp"/> of a signed-in user (tokens they make carry it).</summary>
    public const string StampClaim = "stamp";

    /// <summary>The <see cref="StaffUser.SessionStamp"/> the session was made under ("" before any password change).</summary>
    public const string SessionStampClaim = "session-stamp";

    public async Task<ClaimsPrincipal?> FromBearerAsync(string secret)
    {
        var adminToken = analytics.Value.AdminToken;
        if (!string.IsNullOrEmpty(adminToken) && Secrets.FixedTimeEquals(secret, adminToken))
        {
            return Principal("admin", Roles.Admin, [], stamp: null, sessionStamp: null);
        }

        var token = secret.Length > 0 ? await staff.FindTokenAsync(secret) : null;
        if (token is null)
        {
            return null;
        }

        var sites = token.Sites;
        if (token.CreatorStamp is not null)
        {
            var maker = await staff.GetUserAsync(token.CreatedBy);
            if (maker is null || maker.Stamp != token.CreatorStamp)
            {
                return null;
            }

            if (maker.Role != Roles.Admin)
            {
                sites = [.. sites.Intersect(maker.Sites, StringComparer.Ordinal)];
            }
        }

        return Principal(token.Name, Roles.ApiToken, sites, stamp: null, sessionStamp: null);
    }

    public async Task<ClaimsPrincipal?> FromSessionAsync(string session) =>
        await staff.FindSessionUserAsync(session) is { } user ? Principal(user.Name, user.Role, user.Sites, user.Stamp, user.SessionStamp ?? "") : null;

    private static ClaimsPrincipal Principal(string name, string role, string[] sites, string? stamp, string? sessionStamp)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(ClaimTypes.Role, role) };
        claims.AddRange(sites.Select(s => new Claim(SiteClaim, s)));
        if (stamp is not null)
        {
            claims.Add(new Claim(StampClaim, stamp));
        }

        if (sessionStamp is not null)
        {
            claims.Add(new Claim(SessionStampClaim, sessionStamp));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
    }
}
