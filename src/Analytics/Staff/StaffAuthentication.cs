using System.Security.Claims;
using System.Text.Encodings.Web;
using Analytics.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Analytics.Staff;

/// <summary>
/// One scheme for every kind of staff credential: the configured admin token and API tokens as
/// <c>Authorization: Bearer</c>, and the session cookie set by <c>/api/login</c>.
/// </summary>
internal sealed class StaffAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    StaffCredentials credentials)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = StaffCredentials.SchemeName;
    public const string Cookie = "analytics_session";
    public const string SiteClaim = StaffCredentials.SiteClaim;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var (bearer, session) = Credentials(Request);
        if (bearer is not null)
        {
            return await credentials.FromBearerAsync(bearer) is { } principal
                ? Success(principal)
                : AuthenticateResult.Fail("The bearer token is not valid.");
        }

        if (session is not null)
        {
            return await credentials.FromSessionAsync(session) is { } principal
                ? Success(principal)
                : AuthenticateResult.Fail("The session has ended; sign in again.");
        }

        return AuthenticateResult.NoResult();
    }

    /// <summary>The bearer secret or the session cookie a request carries (a bearer wins).</summary>
    public static (string? Bearer, string? Session) Credentials(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        // Browsers cannot set headers on WebSockets: SignalR clients send the token in the query.
        if (authorization.Length == 0 && request.Path.StartsWithSegments("/hubs") && request.Query["access_token"] is [{ Length: > 0 } queryToken])
        {
            authorization = "Bearer " + queryToken;
        }

        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (authorization[7..].Trim(), null);
        }

        if (!request.Cookies.TryGetValue(Cookie, out var session) || session.Length == 0)
        {
            return (null, null);
        }

        return FromOwnPages(request) ? (null, session) : (null, null);
    }

    /// <summary>
    /// Whether a request carrying the session cookie comes from the service's own pages. The
    /// cookie is SameSite=Strict, which keeps other sites out but not another origin of the same
    /// site (a sibling subdomain such as the tracked site itself): from there a browser sends the
    /// cookie along with a form post to the API, or a no-cors GET that starts a long-polling hub
    /// connection (the hub answers every origin, for the widget). So the cookie counts only when
    /// the browser says the request is same-origin (<c>Sec-Fetch-Site</c>, which every current
    /// browser sends and which does not depend on a proxy's Host), or, from a client that does
    /// not send it, when any <c>Origin</c> names this service's host. Clients that send neither
    /// (scripts, the CLI) are not browsers acting for someone else.
    /// </summary>
    public static bool FromOwnPages(HttpRequest request)
    {
        if (request.Headers["Sec-Fetch-Site"] is [{ Length: > 0 } fetchSite])
        {
            return fetchSite is "same-origin" or "none";
        }

        return request.Headers.Origin is not [{ } origin]
            || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase));
    }

    private static AuthenticateResult Success(ClaimsPrincipal principal) =>
        AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized", "Sign in, or send an admin or API token as Authorization: Bearer.");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", "Your account may not do this.");
}

/// <summary>Who may read what: admins every site, viewers and API tokens the sites they were given.</summary>
internal static class StaffAccess
{
    public const string StaffPolicy = "staff";
    public const string AdminPolicy = "admin";

    public static bool IsAdmin(this ClaimsPrincipal user) => user.IsInRole(Roles.Admin);

    public static bool CanRead(this ClaimsPrincipal user, string site) =>
        user.IsAdmin() || user.HasClaim(StaffAuthentication.SiteClaim, site);

    public static IReadOnlyList<string> Sites(this ClaimsPrincipal user) =>
        [.. user.FindAll(StaffAuthentication.SiteClaim).Select(c => c.Value)];

    public static IHostApplicationBuilder AddStaff(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<StaffStore>();
        builder.Services.AddSingleton<StaffCredentials>();
        builder.Services.AddSingleton<LoginThrottle>();
        // No default scheme: requests to public endpoints (the pixel above all) are not authenticated
        // at all; staff endpoints name the scheme through their policy.
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, StaffAuthentication>(StaffAuthentication.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(StaffPolicy, p => p.AddAuthenticationSchemes(StaffAuthentication.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.AddAuthenticationSchemes(StaffAuthentication.SchemeName).RequireRole(Roles.Admin));
        return builder;
    }

    /// <summary>For endpoints that are public for some sites: signs the caller in when credentials came.</summary>
    public static async Task<ClaimsPrincipal?> AuthenticateStaffAsync(this HttpContext context)
    {
        var result = await context.AuthenticateAsync(StaffAuthentication.SchemeName);
        return result.Succeeded ? result.Principal : null;
    }
}
