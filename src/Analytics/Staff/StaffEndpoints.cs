using System.Security.Claims;
using Analytics.Infrastructure;
using Analytics.Sites;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Staff;

internal static class StaffEndpoints
{
    internal sealed record LoginRequest(string? Name, string? Password);

    internal sealed record PasswordChange(string? CurrentPassword, string? NewPassword);

    internal sealed record NewUser(string? Name, string? Password, string? Role, string[]? Sites);

    /// <summary>A change of a user: what is given changes, what is left out (or null) stays.</summary>
    internal sealed record UserChange(string? Password, string? Role, string[]? Sites);

    internal sealed record UserView(string Name, string Role, string[] Sites, DateTimeOffset CreatedAt)
    {
        public static UserView Of(StaffUser user) => new(user.Name, user.Role, user.Sites, user.CreatedAt);
    }

    internal sealed record NewToken(string? Name, string[]? Sites);

    internal sealed record TokenCreated(string Token, string Id, string Name, string[] Sites);

    internal sealed record TokenView(string Id, string Name, string[] Sites, string CreatedBy, DateTimeOffset CreatedAt)
    {
        public static TokenView Of(ApiToken token) => new(token.Id, token.Name, token.Sites, token.CreatedBy, token.CreatedAt);
    }

    internal sealed record Me(string Name, string Role, IReadOnlyList<string> Sites);

    public static IEndpointRouteBuilder MapStaff(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/login", LoginAsync);
        app.MapPost("/api/logout", LogoutAsync);
        app.MapGet("/api/me", (ClaimsPrincipal user) => TypedResults.Ok(new Me(user.Identity!.Name!, user.FindFirstValue(ClaimTypes.Role)!, user.Sites())))
            .RequireAuthorization(StaffAccess.StaffPolicy);
        app.MapPost("/api/me/password", ChangeOwnPasswordAsync).RequireAuthorization(StaffAccess.StaffPolicy);

        var users = app.MapGroup("/api/users").RequireAuthorization(StaffAccess.AdminPolicy);
        users.MapPost("", CreateUserAsync);
        users.MapGet("", async (StaffStore staff) => TypedResults.Ok((await staff.ListUsersAsync()).Select(UserView.Of)));
        users.MapGet("/{name}", async Task<Results<Ok<UserView>, ProblemHttpResult>> (string name, StaffStore staff) =>
            await staff.GetUserAsync(name) is { } user ? TypedResults.Ok(UserView.Of(user)) : Problems.NotFound($"There is no user '{name}'."));
        users.MapPatch("/{name}", UpdateUserAsync);
        users.MapDelete("/{name}", async Task<Results<NoContent, ProblemHttpResult>> (string name, StaffStore staff) =>
            await staff.DeleteUserAsync(name) ? TypedResults.NoContent() : Problems.NotFound($"There is no user '{name}'."));

        var tokens = app.MapGroup("/api/tokens").RequireAuthorization(StaffAccess.StaffPolicy);
        tokens.MapPost("", CreateTokenAsync);
        tokens.MapGet("", ListTokensAsync);
        tokens.MapDelete("/{id}", DeleteTokenAsync);
        return app;
    }

    /// <summary>Admins see every token; other staff the ones they made.</summary>
    private static async Task<IResult> ListTokensAsync(ClaimsPrincipal caller, StaffStore staff)
    {
        if (caller.IsInRole(Roles.ApiToken))
        {
            return Problems.Forbidden("An API token cannot list tokens; sign in as staff.");
        }

        return TypedResults.Ok((await staff.ListTokensAsync()).Where(t => MayManage(caller, t)).Select(TokenView.Of));
    }

    /// <summary>Revokes a token at once: admins any, other staff their own (others' are "not found").</summary>
    private static async Task<IResult> DeleteTokenAsync(string id, ClaimsPrincipal caller, StaffStore staff)
    {
        if (caller.IsInRole(Roles.ApiToken))
        {
            return Problems.Forbidden("An API token cannot remove tokens; sign in as staff.");
        }

        if (!await staff.DeleteTokenAsync(id, token => MayManage(caller, token)))
        {
            return Problems.NotFound($"There is no token '{id}'.");
        }

        return TypedResults.NoContent();
    }

    private static bool MayManage(ClaimsPrincipal caller, ApiToken token) =>
        caller.IsAdmin() || (token.CreatorStamp is not null && token.CreatedBy == caller.Identity?.Name && token.CreatorStamp == caller.FindFirstValue(StaffCredentials.StampClaim));

    private static async Task<IResult> LoginAsync(LoginRequest? request, StaffStore staff, LoginThrottle throttle, HttpContext context)
    {
        if (string.IsNullOrEmpty(request?.Name))
        {
            return Problems.Invalid("name", "name is required.");
        }

        if (string.IsNullOrEmpty(request.Password))
        {
            return Problems.Invalid("password", "password is required.");
        }

        using var attempt = await throttle.BeginAsync(context);
        if (attempt is null)
        {
            return TooManyAttempts(context, "sign-ins", "Too many sign-in attempts");
        }

        // An unknown name costs the same password check as a known one: timing tells no names.
        var user = await staff.GetUserAsync(request.Name);
        var passwordHash = user?.PasswordHash ?? Passwords.UnknownUserHash;
        if (!await throttle.CheckAsync(() => Passwords.Verify(request.Password, passwordHash), context.RequestAborted) || user is null)
        {
            attempt.Failed();
            return Problems.Unauthorized("The name or password is wrong.");
        }

        AppendSessionCookie(context, await staff.CreateSessionAsync(user));
        return TypedResults.Ok(new Me(user.Name, user.Role, user.Sites));
    }

    /// <summary>
    /// A signed-in user changes their own password, giving the current one (checked like a sign-in,
    /// and counted against the same limit). Their other sessions end; this one goes on under a new
    /// cookie. Their tokens stay.
    /// </summary>
    private static async Task<IResult> ChangeOwnPasswordAsync(PasswordChange? request, ClaimsPrincipal caller, StaffStore staff, LoginThrottle throttle, HttpContext context)
    {
        // A session's user, not an API token or the configured admin token, which have no password.
        if (caller.FindFirstValue(StaffCredentials.StampClaim) is not { } stamp)
        {
            return Problems.Forbidden("Only a signed-in user changes their own password; admins change others' with PATCH /api/users/{name}.");
        }

        if (string.IsNullOrEmpty(request?.CurrentPassword))
        {
            return Problems.Invalid("currentPassword", "currentPassword is required.");
        }

        if (!UserRules.IsLongEnough(request.NewPassword))
        {
            return Problems.Invalid("newPassword", $"newPassword is required: at least {UserRules.MinPasswordLength} characters.");
        }

        using var attempt = await throttle.BeginAsync(context);
        if (attempt is null)
        {
            return TooManyAttempts(context, "password checks", "Too many password checks");
        }

        var user = await staff.GetUserAsync(caller.Identity!.Name!);
        if (user is null || user.Stamp != stamp)
        {
            return Problems.Unauthorized("Your session has ended; sign in again.");
        }

        if (!await throttle.CheckAsync(() => Passwords.Verify(request.CurrentPassword, user.PasswordHash), context.RequestAborted))
        {
            attempt.Failed();
            return Problems.Invalid("currentPassword", "currentPassword is not your password.");
        }

        // Only while this session is still good: a password changed meanwhile (by an admin, or by
        // another request of this session) has ended it, and this change must not undo that one.
        var sessionStamp = caller.FindFirstValue(StaffCredentials.SessionStampClaim) ?? "";
        var newHash = Passwords.Hash(request.NewPassword);
        var changed = await staff.UpdateUserAsync(user.Name, current =>
            current.Stamp == stamp && (current.SessionStamp ?? "") == sessionStamp ? current.Changed(newHash, null, null) : null);
        if (changed is null)
        {
            return Problems.Unauthorized("Your session ended while the password was being changed (it was changed meanwhile); sign in again.");
        }

        AppendSessionCookie(context, await staff.CreateSessionAsync(changed));
        return TypedResults.NoContent();
    }

    /// <summary>The <see cref="LoginThrottle"/>'s refusal: sign-ins and password changes share its allowance.</summary>
    private static IResult TooManyAttempts(HttpContext context, string what, string title)
    {
        context.Response.Headers.RetryAfter = "60";
        return TypedResults.Problem($"{LoginThrottle.FailuresPerMinute} failed {what} a minute from this address (or too many at once); wait a minute.",
            statusCode: StatusCodes.Status429TooManyRequests, title: title);
    }

    private static void AppendSessionCookie(HttpContext context, string session) =>
        context.Response.Cookies.Append(StaffAuthentication.Cookie, session, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            MaxAge = StaffStore.SessionLifetime,
        });

    private static async Task<IResult> LogoutAsync(StaffStore staff, HttpContext context)
    {
        // Another page of the same site (whose browser sends the cookie along) cannot sign staff out.
        if (!StaffAuthentication.FromOwnPages(context.Request))
        {
            return Problems.Forbidden("Sign out from the service's own pages.");
        }

        if (context.Request.Cookies.TryGetValue(StaffAuthentication.Cookie, out var session) && session.Length > 0)
        {
            await staff.DeleteSessionAsync(session);
        }

        context.Response.Cookies.Delete(StaffAuthentication.Cookie, new CookieOptions { Path = "/" });
        return TypedResults.NoContent();
    }

    private static async Task<IResult> CreateUserAsync(NewUser? request, StaffStore staff, SiteStore sites)
    {
        var role = request?.Role ?? Roles.Viewer;
        var (field, error) = UserRules.Check(request?.Name, request?.Password, role);
        if (error is not null)
        {
            return Problems.Invalid(field!, error);
        }

        var (name, password) = (request!.Name!, request.Password!);
        var (siteIds, problem) = await CheckSitesAsync(request.Sites ?? [], sites);
        if (problem is not null)
        {
            return problem;
        }

        var user = StaffUser.New(name, Passwords.Hash(password), role, siteIds, staff.Now);
        if (!await staff.CreateUserAsync(user))
        {
            return Problems.Conflict($"There is already a user '{name}'.");
        }

        return TypedResults.Created($"/api/users/{name}", UserView.Of(user));
    }

    /// <summary>
    /// Changes a user's password (which ends their sessions; their tokens stay), role or sites; the
    /// rest takes effect on their next request.
    /// </summary>
    private static async Task<IResult> UpdateUserAsync(string name, UserChange? request, StaffStore staff, SiteStore sites)
    {
        if (request is null || (request.Password, request.Role, request.Sites) is (null, null, null))
        {
            return Problems.Invalid("body", "Give at least one of password, role and sites.");
        }

        var (field, error) = UserRules.CheckChange(request.Password, request.Role);
        if (error is not null)
        {
            return Problems.Invalid(field!, error);
        }

        string[]? siteIds = null;
        if (request.Sites is { } requested)
        {
            (siteIds, var problem) = await CheckSitesAsync(requested, sites);
            if (problem is not null)
            {
                return problem;
            }
        }

        var passwordHash = request.Password is null ? null : Passwords.Hash(request.Password);
        var user = await staff.UpdateUserAsync(name, user => user.Changed(passwordHash, request.Role, siteIds));
        return user is null ? Problems.NotFound($"There is no user '{name}'.") : TypedResults.Ok(UserView.Of(user));
    }

    private static async Task<IResult> CreateTokenAsync(NewToken? request, ClaimsPrincipal caller, StaffStore staff, SiteStore sites)
    {
        if (caller.IsInRole(Roles.ApiToken))
        {
            return Problems.Forbidden("An API token cannot create tokens; sign in as staff.");
        }

        if (!UserRules.IsTokenName(request?.Name))
        {
            return Problems.Invalid("name", UserRules.TokenNameRule);
        }

        if (request.Sites is not { Length: > 0 })
        {
            return Problems.Invalid("sites", "sites must name at least one site the token may read.");
        }

        var (siteIds, problem) = await CheckSitesAsync(request.Sites, sites);
        if (problem is not null)
        {
            return problem;
        }

        if (siteIds.FirstOrDefault(s => !caller.CanRead(s)) is { } outOfScope)
        {
            return Problems.Forbidden($"You cannot give a token access to site '{outOfScope}'.");
        }

        var (secret, id) = await staff.CreateTokenAsync(new ApiToken(request.Name, siteIds, caller.Identity!.Name!, staff.Now, caller.FindFirstValue(StaffCredentials.StampClaim)));
        return TypedResults.Created((string?)null, new TokenCreated(secret, id, request.Name, siteIds));
    }

    private static async Task<(string[] Sites, IResult? Problem)> CheckSitesAsync(string[] requested, SiteStore sites)
    {
        foreach (var id in requested)
        {
            if (string.IsNullOrEmpty(id) || await sites.GetAsync(id) is null)
            {
                return ([], Problems.Invalid("sites", $"There is no site '{id}'."));
            }
        }

        return ([.. requested.Distinct(StringComparer.Ordinal)], null);
    }
}
