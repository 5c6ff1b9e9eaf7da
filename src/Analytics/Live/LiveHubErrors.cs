using Microsoft.AspNetCore.SignalR;

namespace Analytics.Live;

/// <summary>
/// What a hub method fails with. A refusal (<see cref="HubException"/>: "Unauthorized: …",
/// "Forbidden: …") is an answer to the client, not a fault of ours: SignalR would log each one at
/// Error with a stack trace, so anyone could fill the log by asking for a private site; those go
/// to Debug here. Anything else is logged as the error it is and reaches the client as a plain
/// "Unavailable" refusal.
/// </summary>
internal sealed partial class LiveHubErrors(ILogger<LiveHubErrors> logger) : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (HubException e)
        {
            // Clients read the refusal from "HubException: …", so it goes on as it is; the
            // dispatcher's own log of it is switched off in appsettings.json.
            LogRefused(invocationContext.HubMethodName, e.Message);
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(e, invocationContext.HubMethodName);
            throw new HubException("Unavailable: the live counts cannot be read right now; try again shortly.");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live hub refused {Method}: {Reason}")]
    private partial void LogRefused(string method, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Live hub method {Method} failed.")]
    private partial void LogFailed(Exception exception, string method);
}
